#pragma once
// A tiny anti-aliased rasteriser for the synthetic world: filled shapes in an
// entity's local frame ([-1, 1]^2, y down) placed on the image by a pose.
#include <vector>

#include "data/image.h"
#include "data/rng.h"

namespace mike::data {

struct Color {
  float r = 0, g = 0, b = 0;  // 0..255
};
Color scaled(Color c, float factor);  // brightness change, clamped
Color mixed(Color a, Color b, float t);

struct Vec2 {
  float x = 0, y = 0;
};

// Local frame -> pixels: p = centre + scale * R(angle) * (flip ? (-x, y) : (x, y)).
struct Pose {
  float cx = 0, cy = 0;
  float scale = 1;
  float angle = 0;  // radians
  bool flip = false;
};

class Canvas {
 public:
  explicit Canvas(Image& image) : image_(image) {}
  void set_pose(const Pose& pose) { pose_ = pose; }

  void ellipse(float cx, float cy, float rx, float ry, float angle, Color color);
  void circle(float cx, float cy, float r, Color color) { ellipse(cx, cy, r, r, 0, color); }
  void rect(float cx, float cy, float w, float h, float angle, Color color);
  void polygon(const std::vector<Vec2>& points, Color color);
  void line(Vec2 a, Vec2 b, float width, Color color);

 private:
  template <class Inside>
  void fill(float x0, float y0, float x1, float y1, Color color, Inside inside);

  Image& image_;
  Pose pose_;
};

enum class Background { kFlat, kGradient, kStripes, kChecker, kBlotches };
constexpr int kBackgroundKinds = 5;
// Fills the image with a muted textured background.
void paint_background(Image& image, Background kind, Rng& rng);
// Adds uniform per-channel noise in [-amplitude, amplitude].
void add_noise(Image& image, float amplitude, Rng& rng);

}  // namespace mike::data
