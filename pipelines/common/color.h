// color.h — CSS-style colour parsing and the colour spaces the pipelines compute in.
#ifndef WQ_COLOR_H_
#define WQ_COLOR_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// "#rgb", "#rrggbb", "rgb(r, g, b)" (0..255 or percentages), or a CSS named colour ("red",
// "rebeccapurple", ...; case-insensitive). 1 on success.
int wq_parse_color(const char* text, uint8_t rgb[3]);

// sRGB (0..255) <-> CIE L*a*b* (D65). Lab is where colour statistics are matched: its axes are roughly
// perceptually uniform and decorrelated, so per-channel mean and spread transfer well.
void wq_rgb_to_lab(const uint8_t rgb[3], float lab[3]);
void wq_lab_to_rgb(const float lab[3], uint8_t rgb[3]);

static inline uint8_t wq_clamp_u8(float v) { return v <= 0.f ? 0 : v >= 255.f ? 255 : (uint8_t)(v + 0.5f); }

#ifdef __cplusplus
}
#endif

#endif  // WQ_COLOR_H_
