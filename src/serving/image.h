// Image decoding and resizing for the built-in image transformer: PNG (any bit depth, palette,
// grey or colour, with or without alpha) through libpng, or raw 8-bit pixels, turned into the
// planar float tensor a model's input wants ([C, H, W], values 0-255).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff::serving {

// 8-bit pixels, interleaved, row-major: height x width x channels (1 grey, 3 RGB).
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

bool LooksLikePng(std::string_view bytes);
// Decodes a PNG to 8-bit grey (grey inputs) or RGB (colour inputs); alpha is composited onto
// black, 16-bit samples are reduced to 8. A damaged file is BadRequest naming the problem.
StatusOr<Image> DecodePng(std::string_view bytes);

// Converts `image` to `channels` (1: ITU-R 601 luma; 3: grey replicated), resizes it bilinearly to
// height x width and writes planar floats [channels][height][width] in 0-255.
std::vector<float> ToPlanarFloats(const Image& image, int channels, int height, int width);

// Encodes 8-bit grey or RGB pixels as PNG (tests and examples build their inputs with it).
StatusOr<std::string> EncodePng(const Image& image);

}  // namespace skiff::serving
