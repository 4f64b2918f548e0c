#include "data/raster.h"

#include <algorithm>
#include <cmath>

namespace mike::data {

namespace {
constexpr int kSubsamples = 3;  // per axis: 9 samples per pixel for anti-aliasing

std::uint8_t to_byte(float v) { return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }
}  // namespace

Color scaled(Color c, float factor) {
  return {std::clamp(c.r * factor, 0.0F, 255.0F), std::clamp(c.g * factor, 0.0F, 255.0F),
          std::clamp(c.b * factor, 0.0F, 255.0F)};
}
Color mixed(Color a, Color b, float t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

template <class Inside>
void Canvas::fill(float x0, float y0, float x1, float y1, Color color, Inside inside) {
  // Pixel bounding box of the local box's corners under the pose.
  const float c = std::cos(pose_.angle), s = std::sin(pose_.angle);
  float px0 = 1e9F, py0 = 1e9F, px1 = -1e9F, py1 = -1e9F;
  for (float lx : {x0, x1}) {
    for (float ly : {y0, y1}) {
      float fx = pose_.flip ? -lx : lx;
      float px = pose_.cx + pose_.scale * (c * fx - s * ly);
      float py = pose_.cy + pose_.scale * (s * fx + c * ly);
      px0 = std::min(px0, px), px1 = std::max(px1, px), py0 = std::min(py0, py), py1 = std::max(py1, py);
    }
  }
  int ix0 = std::max(0, static_cast<int>(std::floor(px0))), iy0 = std::max(0, static_cast<int>(std::floor(py0)));
  int ix1 = std::min(image_.width - 1, static_cast<int>(std::ceil(px1)));
  int iy1 = std::min(image_.height - 1, static_cast<int>(std::ceil(py1)));
  const float inv = 1.0F / pose_.scale;
  for (int y = iy0; y <= iy1; ++y) {
    for (int x = ix0; x <= ix1; ++x) {
      int hits = 0;
      for (int sy = 0; sy < kSubsamples; ++sy) {
        for (int sx = 0; sx < kSubsamples; ++sx) {
          float dx = (x + (sx + 0.5F) / kSubsamples - pose_.cx) * inv;
          float dy = (y + (sy + 0.5F) / kSubsamples - pose_.cy) * inv;
          float lx = c * dx + s * dy;  // R(-angle)
          float ly = -s * dx + c * dy;
          if (pose_.flip) lx = -lx;
          hits += inside(lx, ly) ? 1 : 0;
        }
      }
      if (hits == 0) continue;
      float alpha = static_cast<float>(hits) / (kSubsamples * kSubsamples);
      std::uint8_t* p = image_.at(x, y);
      p[0] = to_byte(p[0] + (color.r - p[0]) * alpha);
      p[1] = to_byte(p[1] + (color.g - p[1]) * alpha);
      p[2] = to_byte(p[2] + (color.b - p[2]) * alpha);
    }
  }
}

void Canvas::ellipse(float cx, float cy, float rx, float ry, float angle, Color color) {
  const float c = std::cos(angle), s = std::sin(angle), r = std::max(rx, ry);
  fill(cx - r, cy - r, cx + r, cy + r, color, [=](float x, float y) {
    float u = (c * (x - cx) + s * (y - cy)) / rx;
    float v = (-s * (x - cx) + c * (y - cy)) / ry;
    return u * u + v * v <= 1.0F;
  });
}

void Canvas::rect(float cx, float cy, float w, float h, float angle, Color color) {
  const float c = std::cos(angle), s = std::sin(angle), r = 0.5F * std::hypot(w, h);
  fill(cx - r, cy - r, cx + r, cy + r, color, [=](float x, float y) {
    float u = c * (x - cx) + s * (y - cy);
    float v = -s * (x - cx) + c * (y - cy);
    return std::abs(u) <= 0.5F * w && std::abs(v) <= 0.5F * h;
  });
}

void Canvas::polygon(const std::vector<Vec2>& points, Color color) {
  float x0 = 1e9F, y0 = 1e9F, x1 = -1e9F, y1 = -1e9F;
  for (const auto& p : points) x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  fill(x0, y0, x1, y1, color, [&points](float x, float y) {
    bool inside = false;  // even-odd rule
    for (std::size_t i = 0, j = points.size() - 1; i < points.size(); j = i++) {
      const Vec2& a = points[i];
      const Vec2& b = points[j];
      if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) inside = !inside;
    }
    return inside;
  });
}

void Canvas::line(Vec2 a, Vec2 b, float width, Color color) {
  float length = std::hypot(b.x - a.x, b.y - a.y);
  rect(0.5F * (a.x + b.x), 0.5F * (a.y + b.y), length, width, std::atan2(b.y - a.y, b.x - a.x), color);
}

void paint_background(Image& image, Background kind, Rng& rng) {
  // Muted colours so entities (saturated parts) stay the salient signal.
  auto muted = [&rng]() {
    float grey = rng.uniform(110.0F, 225.0F);
    return Color{grey + rng.uniform(-25.0F, 25.0F), grey + rng.uniform(-25.0F, 25.0F), grey + rng.uniform(-25.0F, 25.0F)};
  };
  Color a = muted(), b = muted();
  const int w = image.width, h = image.height;
  const float period = std::max(4.0F, rng.uniform(0.08F, 0.25F) * static_cast<float>(w));
  const float angle = rng.uniform(0.0F, 3.14159F);
  const float ca = std::cos(angle), sa = std::sin(angle);
  std::vector<Vec2> blobs;
  for (int i = 0; i < 6; ++i) blobs.push_back({rng.uniform(0.0F, 1.0F) * w, rng.uniform(0.0F, 1.0F) * h});
  const float blob_radius = rng.uniform(0.12F, 0.3F) * w;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      float t = 0;
      switch (kind) {
        case Background::kFlat: t = 0; break;
        case Background::kGradient: t = static_cast<float>(y) / std::max(1, h - 1); break;
        case Background::kStripes: t = std::fmod(std::abs(ca * x + sa * y), period) < 0.5F * period ? 0.0F : 0.6F; break;
        case Background::kChecker:
          t = ((static_cast<int>(x / period) + static_cast<int>(y / period)) % 2) ? 0.5F : 0.0F;
          break;
        case Background::kBlotches:
          for (const auto& p : blobs) {
            if (std::hypot(x - p.x, y - p.y) < blob_radius) t = 0.7F;
          }
          break;
      }
      Color c = mixed(a, b, t);
      std::uint8_t* p = image.at(x, y);
      p[0] = to_byte(c.r), p[1] = to_byte(c.g), p[2] = to_byte(c.b);
    }
  }
}

void add_noise(Image& image, float amplitude, Rng& rng) {
  for (auto& v : image.rgb) v = to_byte(v + rng.uniform(-amplitude, amplitude));
}

}  // namespace mike::data
