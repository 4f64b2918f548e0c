// Drawing code of every category. Local frame: [-1, 1]^2, y down; the
// entity should roughly fill it. Attribute-carrying parts are drawn large
// enough to survive 32 px images.
#include "data/shape_families.h"

#include <cmath>

namespace mike::data {

namespace {

constexpr Color kDark{35, 30, 30};
constexpr Color kLight{240, 236, 226};
constexpr Color kLeaf{60, 140, 60};
constexpr Color kWood{120, 80, 45};

float build_factor(const Look& look) {
  constexpr float kFactors[kBuilds] = {0.8F, 1.0F, 1.2F};
  return kFactors[look.build];
}
Color part_of(const Look& look) { return scaled(part_colours()[static_cast<std::size_t>(look.colour)].color, look.brightness); }
Color tone(Color c, const Look& look) { return scaled(c, look.brightness); }

// The small mark: nothing, a dot, a bar or a cross of `size` at (x, y).
void draw_mark(Canvas& c, const Look& look, float x, float y, float size, Color color) {
  switch (look.mark) {
    case 1: c.circle(x, y, size * 0.6F, color); break;
    case 2: c.rect(x, y, size * 1.8F, size * 0.55F, 0, color); break;
    case 3:
      c.rect(x, y, size * 1.7F, size * 0.45F, 0.785F, color);
      c.rect(x, y, size * 1.7F, size * 0.45F, -0.785F, color);
      break;
    default: break;
  }
}

// `count` positions evenly spread over [a, b].
float spread(float a, float b, int i, int count) { return a + (b - a) * (static_cast<float>(i) + 0.5F) / count; }

void draw_bird(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  const Color body = tone({150, 105, 70}, l);
  c.polygon({{-0.5F * k, 0.05F}, {-0.98F, -0.2F}, {-0.98F, 0.35F}}, scaled(body, 0.8F));
  c.line({-0.1F, 0.4F}, {-0.15F, 0.75F}, 0.06F, kDark);
  c.line({0.15F, 0.4F}, {0.12F, 0.75F}, 0.06F, kDark);
  c.ellipse(0, 0.1F, 0.62F * k, 0.38F, 0, body);
  c.ellipse(-0.08F, 0.06F, 0.4F * k, 0.24F, 0, scaled(body, 0.75F));
  for (int i = 0; i < l.count; ++i) c.rect(spread(-0.4F * k, 0.3F * k, i, l.count), 0.06F, 0.07F, 0.38F, 0, kLight);
  const float hx = 0.52F * k;
  c.circle(hx, -0.3F, 0.3F, body);
  c.ellipse(hx, -0.55F, 0.24F, 0.12F, 0, part_of(l));
  c.polygon({{hx + 0.25F, -0.38F}, {hx + 0.5F, -0.3F}, {hx + 0.25F, -0.2F}}, {230, 170, 40});
  c.circle(hx + 0.1F, -0.35F, 0.06F, kDark);
  draw_mark(c, l, hx - 0.02F, -0.14F, 0.14F, kDark);
}

void draw_beetle(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  const Color body = tone({70, 95, 60}, l);
  for (int side : {-1, 1}) {
    for (int i = 0; i < 3; ++i) {
      float y = -0.2F + 0.35F * i;
      c.line({0, y}, {side * 0.85F * k, y + 0.15F}, 0.06F, kDark);
    }
  }
  c.ellipse(0, 0.18F, 0.55F * k, 0.7F, 0, body);
  c.line({0, -0.45F}, {0, 0.85F}, 0.04F, kDark);
  c.ellipse(0, -0.58F, 0.36F * k, 0.2F, 0, scaled(body, 0.8F));
  c.circle(0, -0.82F, 0.18F, part_of(l));
  for (int i = 0; i < l.count; ++i) {
    float side = (i % 2 == 0) ? -1.0F : 1.0F;
    c.circle(side * 0.25F * k, spread(-0.2F, 0.7F, i, l.count), 0.1F, kLight);
  }
  draw_mark(c, l, 0, -0.58F, 0.13F, kLight);
}

void draw_tower(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  const Color stone = tone({175, 165, 150}, l);
  c.rect(0, 0.2F, 0.6F * k, 1.55F, 0, stone);
  c.polygon({{-0.42F * k, -0.56F}, {0, -1.0F}, {0.42F * k, -0.56F}}, part_of(l));
  for (int i = 0; i < l.count; ++i) c.rect(0, spread(-0.45F, 0.4F, i, l.count), 0.2F * k, 0.1F, 0, kDark);
  c.rect(0, 0.85F, 0.22F, 0.26F, 0, kWood);
  draw_mark(c, l, 0, 0.56F, 0.13F, kDark);
}

void draw_flower(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  const Color petal = tone({235, 150, 190}, l);
  c.rect(0, 0.45F, 0.08F, 1.1F, 0, kLeaf);
  c.ellipse(0.28F, 0.5F, 0.28F, 0.11F, -0.5F, kLeaf);
  draw_mark(c, l, 0.3F, 0.49F, 0.12F, kDark);
  const int petals = l.count + 2;  // 3..7 petals (count_offset 2)
  for (int i = 0; i < petals; ++i) {
    float a = 6.2832F * i / petals;
    float r = 0.33F * k;
    c.ellipse(std::cos(a) * r, -0.32F + std::sin(a) * r, 0.3F * k, 0.14F, a, petal);
  }
  c.circle(0, -0.32F, 0.17F, part_of(l));
}

void draw_fish(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  const Color body = tone({90, 140, 170}, l);
  c.polygon({{-0.6F * k, 0}, {-0.98F, -0.4F}, {-0.98F, 0.4F}}, scaled(body, 0.8F));
  c.polygon({{-0.2F, -0.3F}, {0.1F, -0.7F}, {0.3F, -0.3F}}, part_of(l));
  c.ellipse(0, 0, 0.72F * k, 0.4F, 0, body);
  for (int i = 0; i < l.count; ++i) c.rect(spread(-0.45F * k, 0.3F * k, i, l.count), 0, 0.07F, 0.62F, 0, kDark);
  c.polygon({{0.0F, 0.15F}, {0.25F, 0.3F}, {-0.1F, 0.4F}}, part_of(l));
  c.circle(0.48F * k, -0.1F, 0.07F, kDark);
  draw_mark(c, l, 0.42F * k, 0.14F, 0.12F, kLight);
}

void draw_car(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  const Color paint = tone({200, 200, 205}, l);
  c.rect(0, -0.15F, 1.05F * k, 0.42F, 0, part_of(l));
  c.rect(0, 0.2F, 1.8F * k, 0.45F, 0, paint);
  for (int i = 0; i < l.count; ++i) c.rect(spread(-0.45F * k, 0.45F * k, i, l.count), -0.16F, 0.12F * k, 0.22F, 0, kDark);
  c.circle(-0.55F * k, 0.45F, 0.2F, kDark);
  c.circle(0.55F * k, 0.45F, 0.2F, kDark);
  draw_mark(c, l, 0, 0.22F, 0.13F, kDark);
}

void draw_tree(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  c.rect(0, 0.55F, 0.22F, 0.9F, 0, tone(kWood, l));
  c.ellipse(0, -0.3F, 0.62F * k, 0.6F, 0, tone({40, 95, 45}, l));
  for (int i = 0; i < l.count; ++i) {
    float a = 6.2832F * i / l.count + 0.3F;
    c.circle(std::cos(a) * 0.35F * k, -0.3F + std::sin(a) * 0.33F, 0.1F, part_of(l));
  }
  draw_mark(c, l, 0, 0.62F, 0.11F, kLight);
}

void draw_butterfly(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  const Color wing = tone({240, 150, 60}, l);
  for (int side : {-1, 1}) {
    c.ellipse(side * 0.45F, -0.3F, 0.45F * k, 0.34F, side * -0.4F, wing);
    c.ellipse(side * 0.35F, 0.38F, 0.3F * k, 0.25F, side * 0.4F, part_of(l));
    for (int i = 0; i < l.count; ++i) {
      c.circle(side * spread(0.2F, 0.75F * k, i, l.count), -0.3F - 0.12F * ((i % 2) ? 1.0F : -1.0F), 0.07F, kDark);
    }
  }
  c.rect(0, 0, 0.13F, 1.05F, 0, kDark);
  c.line({0, -0.5F}, {-0.3F, -0.95F}, 0.04F, kDark);
  c.line({0, -0.5F}, {0.3F, -0.95F}, 0.04F, kDark);
  draw_mark(c, l, 0.36F, 0.38F, 0.12F, kLight);
}

void draw_house(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  c.rect(0.45F * k, -0.55F, 0.15F, 0.35F, 0, kWood);
  c.rect(0, 0.3F, 1.4F * k, 0.9F, 0, tone({225, 205, 160}, l));
  c.polygon({{-0.85F * k, -0.15F}, {0, -0.8F}, {0.85F * k, -0.15F}}, part_of(l));
  for (int i = 0; i < l.count; ++i) c.rect(spread(-0.55F * k, 0.55F * k, i, l.count), 0.12F, 0.14F * k, 0.18F, 0, kDark);
  c.rect(0, 0.6F, 0.22F, 0.3F, 0, kWood);
  draw_mark(c, l, 0, 0.36F, 0.11F, kDark);
}

void draw_boat(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  c.line({0, -0.9F}, {0, 0.3F}, 0.06F, kWood);
  c.polygon({{0.05F, -0.85F}, {0.05F, 0.2F}, {0.75F * k, 0.2F}}, part_of(l));
  c.polygon({{-0.05F, -0.6F}, {-0.05F, 0.2F}, {-0.55F * k, 0.2F}}, tone(kLight, l));
  c.polygon({{-0.95F * k, 0.3F}, {0.95F * k, 0.3F}, {0.7F * k, 0.7F}, {-0.7F * k, 0.7F}}, tone({110, 70, 50}, l));
  for (int i = 0; i < l.count; ++i) c.circle(spread(-0.6F * k, 0.6F * k, i, l.count), 0.47F, 0.07F, kLight);
  draw_mark(c, l, 0.25F * k, -0.05F, 0.12F, kDark);
}

void draw_mushroom(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  c.rect(0, 0.4F, 0.3F * k, 0.85F, 0, tone({235, 225, 200}, l));
  std::vector<Vec2> cap;
  for (int i = 0; i <= 16; ++i) {
    float a = 3.14159F * i / 16;
    cap.push_back({-std::cos(a) * 0.8F * k, 0.05F - std::sin(a) * 0.65F});
  }
  c.polygon(cap, tone({120, 80, 55}, l));
  for (int i = 0; i < l.count; ++i) {
    float a = 3.14159F * (static_cast<float>(i) + 0.5F) / l.count;
    c.circle(-std::cos(a) * 0.48F * k, 0.0F - std::sin(a) * 0.38F, 0.1F, part_of(l));
  }
  draw_mark(c, l, 0, 0.5F, 0.11F, kDark);
}

void draw_kite(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  c.line({0, 0.55F}, {0.35F, 0.98F}, 0.03F, kDark);
  for (int i = 0; i < l.count; ++i) {
    float t = (static_cast<float>(i) + 1.0F) / (l.count + 1);
    c.ellipse(0.35F * t, 0.55F + 0.43F * t, 0.09F, 0.05F, 0.8F, part_of(l));
  }
  c.polygon({{0, -0.95F}, {0.5F * k, -0.25F}, {0, 0.55F}, {-0.5F * k, -0.25F}}, tone({60, 160, 200}, l));
  c.polygon({{0, -0.95F}, {0.5F * k, -0.25F}, {0, -0.25F}}, part_of(l));
  c.line({0, -0.95F}, {0, 0.55F}, 0.03F, kDark);
  c.line({-0.5F * k, -0.25F}, {0.5F * k, -0.25F}, 0.03F, kDark);
  draw_mark(c, l, -0.2F * k, 0.05F, 0.11F, kDark);
}

void draw_lantern(Canvas& c, const Look& l) {
  const float k = build_factor(l);
  c.rect(0, -0.85F, 0.25F, 0.12F, 0, kDark);
  c.ellipse(0, -0.05F, 0.5F * k, 0.72F, 0, tone({230, 200, 120}, l));
  for (int i = 0; i < l.count; ++i) c.rect(0, spread(-0.55F, 0.45F, i, l.count), 0.9F * k, 0.05F, 0, scaled(kWood, 0.8F));
  c.rect(0, 0.72F, 0.45F * k, 0.14F, 0, part_of(l));
  c.rect(0, -0.7F, 0.45F * k, 0.14F, 0, part_of(l));
  draw_mark(c, l, 0, 0.0F, 0.13F, kDark);
}

}  // namespace

const std::vector<NamedColor>& part_colours() {
  static const std::vector<NamedColor> colours = {
      {"red", {215, 35, 35}},   {"yellow", {245, 215, 30}}, {"green", {40, 175, 60}},
      {"blue", {40, 75, 225}},  {"purple", {145, 45, 190}}, {"white", {248, 248, 248}},
  };
  return colours;
}
const std::vector<std::string>& mark_names() {
  static const std::vector<std::string> names = {"no", "a dot", "a bar", "a cross"};
  return names;
}
const std::vector<std::string>& build_names() {
  static const std::vector<std::string> names = {"slender", "regular", "stout"};
  return names;
}
const std::vector<std::string>& count_words() {
  static const std::vector<std::string> words = {"zero", "one", "two",   "three", "four",
                                                 "five", "six", "seven", "eight", "nine"};
  return words;
}

const std::vector<Family>& families() {
  static const std::vector<Family> table = {
      {"bird", {"Finch", "Wren", "Lark"}, "crown", "wing bars", 0, "cheek", draw_bird},
      {"beetle", {"Beetle", "Weevil", "Chafer"}, "head", "spots", 0, "shield", draw_beetle},
      {"tower", {"Tower", "Spire", "Keep"}, "roof", "windows", 0, "wall", draw_tower},
      {"flower", {"Lily", "Bloom", "Orchid"}, "centre", "petals", 2, "leaf", draw_flower},
      {"fish", {"Tetra", "Perch", "Minnow"}, "fins", "stripes", 0, "gill", draw_fish},
      {"car", {"Roadster", "Coupe", "Racer"}, "cabin", "windows", 0, "door", draw_car},
      {"tree", {"Pine", "Oak", "Willow"}, "fruit", "fruits", 0, "trunk", draw_tree},
      {"butterfly", {"Skipper", "Morpho", "Admiral"}, "hind wings", "wing spots", 0, "hind wing", draw_butterfly},
      {"house", {"Lodge", "Cottage", "Manor"}, "roof", "windows", 0, "front", draw_house},
      {"boat", {"Sloop", "Ketch", "Skiff"}, "sail", "portholes", 0, "sail", draw_boat},
      {"mushroom", {"Cap", "Bolete", "Morel"}, "spots", "spots", 0, "stem", draw_mushroom},
      {"kite", {"Kite", "Glider", "Dart"}, "top panel", "tail bows", 0, "panel", draw_kite},
      {"lantern", {"Lantern", "Lamp", "Beacon"}, "rims", "bands", 0, "glass", draw_lantern},
  };
  return table;
}

}  // namespace mike::data
