// color.c — see color.h.
#include "color.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
  const char* name;
  uint32_t rgb;
} named_color;

// CSS Color Module Level 4 named colours (the common ones; greys in both spellings).
static const named_color kNamed[] = {
    {"aliceblue", 0xF0F8FF}, {"antiquewhite", 0xFAEBD7}, {"aqua", 0x00FFFF}, {"aquamarine", 0x7FFFD4},
    {"azure", 0xF0FFFF}, {"beige", 0xF5F5DC}, {"bisque", 0xFFE4C4}, {"black", 0x000000},
    {"blanchedalmond", 0xFFEBCD}, {"blue", 0x0000FF}, {"blueviolet", 0x8A2BE2}, {"brown", 0xA52A2A},
    {"burlywood", 0xDEB887}, {"cadetblue", 0x5F9EA0}, {"chartreuse", 0x7FFF00}, {"chocolate", 0xD2691E},
    {"coral", 0xFF7F50}, {"cornflowerblue", 0x6495ED}, {"cornsilk", 0xFFF8DC}, {"crimson", 0xDC143C},
    {"cyan", 0x00FFFF}, {"darkblue", 0x00008B}, {"darkcyan", 0x008B8B}, {"darkgoldenrod", 0xB8860B},
    {"darkgray", 0xA9A9A9}, {"darkgreen", 0x006400}, {"darkgrey", 0xA9A9A9}, {"darkkhaki", 0xBDB76B},
    {"darkmagenta", 0x8B008B}, {"darkolivegreen", 0x556B2F}, {"darkorange", 0xFF8C00}, {"darkorchid", 0x9932CC},
    {"darkred", 0x8B0000}, {"darksalmon", 0xE9967A}, {"darkseagreen", 0x8FBC8F}, {"darkslateblue", 0x483D8B},
    {"darkslategray", 0x2F4F4F}, {"darkturquoise", 0x00CED1}, {"darkviolet", 0x9400D3}, {"deeppink", 0xFF1493},
    {"deepskyblue", 0x00BFFF}, {"dimgray", 0x696969}, {"dimgrey", 0x696969}, {"dodgerblue", 0x1E90FF},
    {"firebrick", 0xB22222}, {"floralwhite", 0xFFFAF0}, {"forestgreen", 0x228B22}, {"fuchsia", 0xFF00FF},
    {"gainsboro", 0xDCDCDC}, {"ghostwhite", 0xF8F8FF}, {"gold", 0xFFD700}, {"goldenrod", 0xDAA520},
    {"gray", 0x808080}, {"green", 0x008000}, {"greenyellow", 0xADFF2F}, {"grey", 0x808080},
    {"honeydew", 0xF0FFF0}, {"hotpink", 0xFF69B4}, {"indianred", 0xCD5C5C}, {"indigo", 0x4B0082},
    {"ivory", 0xFFFFF0}, {"khaki", 0xF0E68C}, {"lavender", 0xE6E6FA}, {"lawngreen", 0x7CFC00},
    {"lemonchiffon", 0xFFFACD}, {"lightblue", 0xADD8E6}, {"lightcoral", 0xF08080}, {"lightcyan", 0xE0FFFF},
    {"lightgray", 0xD3D3D3}, {"lightgreen", 0x90EE90}, {"lightgrey", 0xD3D3D3}, {"lightpink", 0xFFB6C1},
    {"lightsalmon", 0xFFA07A}, {"lightseagreen", 0x20B2AA}, {"lightskyblue", 0x87CEFA},
    {"lightslategray", 0x778899}, {"lightsteelblue", 0xB0C4DE}, {"lightyellow", 0xFFFFE0}, {"lime", 0x00FF00},
    {"limegreen", 0x32CD32}, {"linen", 0xFAF0E6}, {"magenta", 0xFF00FF}, {"maroon", 0x800000},
    {"mediumaquamarine", 0x66CDAA}, {"mediumblue", 0x0000CD}, {"mediumorchid", 0xBA55D3},
    {"mediumpurple", 0x9370DB}, {"mediumseagreen", 0x3CB371}, {"mediumslateblue", 0x7B68EE},
    {"mediumspringgreen", 0x00FA9A}, {"mediumturquoise", 0x48D1CC}, {"mediumvioletred", 0xC71585},
    {"midnightblue", 0x191970}, {"mintcream", 0xF5FFFA}, {"mistyrose", 0xFFE4E1}, {"moccasin", 0xFFE4B5},
    {"navajowhite", 0xFFDEAD}, {"navy", 0x000080}, {"oldlace", 0xFDF5E6}, {"olive", 0x808000},
    {"olivedrab", 0x6B8E23}, {"orange", 0xFFA500}, {"orangered", 0xFF4500}, {"orchid", 0xDA70D6},
    {"palegoldenrod", 0xEEE8AA}, {"palegreen", 0x98FB98}, {"paleturquoise", 0xAFEEEE},
    {"palevioletred", 0xDB7093}, {"papayawhip", 0xFFEFD5}, {"peachpuff", 0xFFDAB9}, {"peru", 0xCD853F},
    {"pink", 0xFFC0CB}, {"plum", 0xDDA0DD}, {"powderblue", 0xB0E0E6}, {"purple", 0x800080},
    {"rebeccapurple", 0x663399}, {"red", 0xFF0000}, {"rosybrown", 0xBC8F8F}, {"royalblue", 0x4169E1},
    {"saddlebrown", 0x8B4513}, {"salmon", 0xFA8072}, {"sandybrown", 0xF4A460}, {"seagreen", 0x2E8B57},
    {"seashell", 0xFFF5EE}, {"sienna", 0xA0522D}, {"silver", 0xC0C0C0}, {"skyblue", 0x87CEEB},
    {"slateblue", 0x6A5ACD}, {"slategray", 0x708090}, {"snow", 0xFFFAFA}, {"springgreen", 0x00FF7F},
    {"steelblue", 0x4682B4}, {"tan", 0xD2B48C}, {"teal", 0x008080}, {"thistle", 0xD8BFD8},
    {"tomato", 0xFF6347}, {"turquoise", 0x40E0D0}, {"violet", 0xEE82EE}, {"wheat", 0xF5DEB3},
    {"white", 0xFFFFFF}, {"whitesmoke", 0xF5F5F5}, {"yellow", 0xFFFF00}, {"yellowgreen", 0x9ACD32},
};

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = (char)tolower((unsigned char)c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_hex(const char* s, uint8_t rgb[3]) {
  size_t n = strlen(s);
  if (n != 3 && n != 6) return 0;
  for (size_t i = 0; i < n; ++i)
    if (hex_digit(s[i]) < 0) return 0;
  for (int k = 0; k < 3; ++k)
    rgb[k] = n == 3 ? (uint8_t)(hex_digit(s[k]) * 17) : (uint8_t)(hex_digit(s[2 * k]) * 16 + hex_digit(s[2 * k + 1]));
  return 1;
}

// "rgb(12, 34, 56)", "rgb(10%,20%,30%)" or the space-separated CSS 4 form "rgb(12 34 56)".
static int parse_rgb_function(const char* s, uint8_t rgb[3]) {
  if (strncasecmp(s, "rgb(", 4) != 0) return 0;
  s += 4;
  for (int k = 0; k < 3; ++k) {
    while (*s == ' ') ++s;
    char* end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v)) return 0;
    s = end;
    if (*s == '%') {
      v = v * 255.0 / 100.0;
      ++s;
    }
    if (v < 0 || v > 255) return 0;
    rgb[k] = (uint8_t)lround(v);
    while (*s == ' ') ++s;
    if (k < 2 && *s == ',') ++s;
  }
  while (*s == ' ') ++s;
  return s[0] == ')' && s[1] == 0;
}

int wq_parse_color(const char* text, uint8_t rgb[3]) {
  while (*text == ' ') ++text;
  if (*text == '#') return parse_hex(text + 1, rgb);
  if (parse_rgb_function(text, rgb)) return 1;
  for (size_t i = 0; i < sizeof kNamed / sizeof kNamed[0]; ++i) {
    if (strcasecmp(text, kNamed[i].name) == 0) {
      rgb[0] = (uint8_t)(kNamed[i].rgb >> 16);
      rgb[1] = (uint8_t)(kNamed[i].rgb >> 8);
      rgb[2] = (uint8_t)kNamed[i].rgb;
      return 1;
    }
  }
  return 0;
}

// sRGB transfer function, tabulated for the 256 input levels.
static float srgb_to_linear(uint8_t v) {
  static float table[256];
  static int ready = 0;
  if (!ready) {
    for (int i = 0; i < 256; ++i) {
      double c = i / 255.0;
      table[i] = (float)(c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4));
    }
    ready = 1;
  }
  return table[v];
}

static float linear_to_srgb(float c) {
  if (c <= 0.0031308f) c = 12.92f * c;
  else c = 1.055f * powf(c, 1.0f / 2.4f) - 0.055f;
  return c * 255.0f;
}

static float lab_f(float t) { return t > 0.008856f ? cbrtf(t) : 7.787f * t + 16.0f / 116.0f; }
static float lab_finv(float t) { return t > 0.206893f ? t * t * t : (t - 16.0f / 116.0f) / 7.787f; }

void wq_rgb_to_lab(const uint8_t rgb[3], float lab[3]) {
  float r = srgb_to_linear(rgb[0]), g = srgb_to_linear(rgb[1]), b = srgb_to_linear(rgb[2]);
  float x = (0.4124564f * r + 0.3575761f * g + 0.1804375f * b) / 0.95047f;
  float y = 0.2126729f * r + 0.7151522f * g + 0.0721750f * b;
  float z = (0.0193339f * r + 0.1191920f * g + 0.9503041f * b) / 1.08883f;
  float fx = lab_f(x), fy = lab_f(y), fz = lab_f(z);
  lab[0] = 116.0f * fy - 16.0f;
  lab[1] = 500.0f * (fx - fy);
  lab[2] = 200.0f * (fy - fz);
}

void wq_lab_to_rgb(const float lab[3], uint8_t rgb[3]) {
  float fy = (lab[0] + 16.0f) / 116.0f, fx = fy + lab[1] / 500.0f, fz = fy - lab[2] / 200.0f;
  float x = lab_finv(fx) * 0.95047f, y = lab_finv(fy), z = lab_finv(fz) * 1.08883f;
  float r = 3.2404542f * x - 1.5371385f * y - 0.4985314f * z;
  float g = -0.9692660f * x + 1.8760108f * y + 0.0415560f * z;
  float b = 0.0556434f * x - 0.2040259f * y + 1.0572252f * z;
  rgb[0] = wq_clamp_u8(linear_to_srgb(r < 0 ? 0 : r));
  rgb[1] = wq_clamp_u8(linear_to_srgb(g < 0 ? 0 : g));
  rgb[2] = wq_clamp_u8(linear_to_srgb(b < 0 ? 0 : b));
}
