#include "data/contact_sheet.h"

#include <stb/stb_easy_font.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace mike::data {

void draw_text(Image& image, int x, int y, const std::string& text, int scale, std::uint8_t r, std::uint8_t g,
               std::uint8_t b) {
  // stb_easy_font emits axis-aligned quads (4 vertices of 16 bytes: x, y, z, rgba).
  std::vector<char> buffer(text.size() * 270 + 64);
  std::string copy = text;
  int quads = stb_easy_font_print(0, 0, copy.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
  for (int q = 0; q < quads; ++q) {
    float x0 = 1e9F, y0 = 1e9F, x1 = -1e9F, y1 = -1e9F;
    for (int v = 0; v < 4; ++v) {
      const float* vertex = reinterpret_cast<const float*>(buffer.data() + (q * 4 + v) * 16);
      x0 = std::min(x0, vertex[0]), x1 = std::max(x1, vertex[0]);
      y0 = std::min(y0, vertex[1]), y1 = std::max(y1, vertex[1]);
    }
    for (int py = y + static_cast<int>(y0 * scale); py < y + static_cast<int>(y1 * scale); ++py) {
      for (int px = x + static_cast<int>(x0 * scale); px < x + static_cast<int>(x1 * scale); ++px) {
        if (px < 0 || py < 0 || px >= image.width || py >= image.height) continue;
        std::uint8_t* p = image.at(px, py);
        p[0] = r, p[1] = g, p[2] = b;
      }
    }
  }
}

Image make_contact_sheet(const World& world, const ContactSheetOptions& options) {
  constexpr int kLabelHeight = 22;  // two text lines under each thumbnail
  constexpr int kRowHeader = 116;   // category name column (scale-2 text, "butterfly" fits)
  constexpr int kGap = 6;
  const int cell_w = options.thumbnail + kGap;
  const int cell_h = options.thumbnail + kLabelHeight + kGap;
  std::map<std::string, std::vector<const WorldEntity*>> by_category;
  for (const auto& e : world.entities) by_category[e.category].push_back(&e);
  const int rows = static_cast<int>(world.categories.size());
  Image sheet = make_image(kRowHeader + options.columns * cell_w + kGap, kGap + rows * cell_h, 255, 255, 255);
  for (int row = 0; row < rows; ++row) {
    const std::string& category = world.categories[static_cast<std::size_t>(row)].name;
    const int top = kGap + row * cell_h;
    draw_text(sheet, kGap, top + options.thumbnail / 2 - 7, category, 2);
    const auto& members = by_category[category];
    for (int col = 0; col < options.columns && col < static_cast<int>(members.size()); ++col) {
      const WorldEntity& e = *members[static_cast<std::size_t>(col)];
      const int left = kRowHeader + col * cell_w;
      if (!e.images.empty()) {
        Image thumb = resize_image(read_image(e.images.front()), options.thumbnail, options.thumbnail,
                                   ResizeFilter::kBilinear);
        for (int y = 0; y < thumb.height; ++y) {
          std::copy(thumb.at(0, y), thumb.at(0, y) + thumb.width * 3, sheet.at(left, top + y));
        }
      }
      draw_text(sheet, left, top + options.thumbnail + 3, e.name);
      draw_text(sheet, left, top + options.thumbnail + 12, e.split, 1, 110, 110, 110);
    }
  }
  return sheet;
}

}  // namespace mike::data
