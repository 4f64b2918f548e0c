#pragma once
// The categories of the synthetic world. Each category is its own parametric
// shape family; entities of one category share the body and differ only in
// four fine attributes (a part's colour, a count, a small mark, proportions).
#include <string>
#include <vector>

#include "data/raster.h"

namespace mike::data {

// The fine attributes that tell siblings apart.
struct Look {
  int colour = 0;  // index into part_colours(): colour of the category's "part"
  int count = 1;   // 1..kMaxCount stripes/spots/windows/...
  int mark = 0;    // index into mark_names(): a small mark (none, dot, bar, cross)
  int build = 1;   // index into build_names(): slender, regular, stout
  // Per-image colour jitter (brightness factor), not an attribute.
  float brightness = 1.0F;
};

constexpr int kMaxCount = 5;
constexpr int kMarks = 4;
constexpr int kBuilds = 3;

struct NamedColor {
  const char* name;
  Color color;
};
const std::vector<NamedColor>& part_colours();
const std::vector<std::string>& mark_names();   // "no", "a dot", "a bar", "a cross"
const std::vector<std::string>& build_names();  // "slender", "regular", "stout"
const std::vector<std::string>& count_words();  // "zero" ... "nine" (index = number)

struct Family {
  std::string category;               // "bird"
  std::vector<std::string> nouns;     // head nouns of entity names: "Finch", "Wren", ...
  std::string part;                   // the coloured part: "crown"
  std::string counted;                // plural noun of the count: "wing bars"
  int count_offset;                   // drawn/said number = Look::count + count_offset
  std::string marked;                 // where the mark sits: "cheek"
  void (*draw)(Canvas& canvas, const Look& look);
};

// The categories, in a fixed order (>= 12).
const std::vector<Family>& families();

}  // namespace mike::data
