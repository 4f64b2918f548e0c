#pragma once
// A PNG grid of sibling entities with their names, so a person can check at a
// glance that siblings look alike yet are distinguishable (`mike data stats`).
#include <string>

#include "data/image.h"
#include "data/world.h"

namespace mike::data {

struct ContactSheetOptions {
  int columns = 8;     // siblings shown per category row
  int thumbnail = 96;  // px per entity image
};

// One row per category: its first `columns` entities (first view each),
// labelled with name and split. Throws DataError if an image cannot be read.
Image make_contact_sheet(const World& world, const ContactSheetOptions& options = {});

// Draws `text` with stb_easy_font's segment glyphs (about 6 px per character,
// 7 px tall at scale 1) at (x, y), top-left.
void draw_text(Image& image, int x, int y, const std::string& text, int scale = 1, std::uint8_t r = 0,
               std::uint8_t g = 0, std::uint8_t b = 0);

}  // namespace mike::data
