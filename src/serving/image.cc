// libpng behind image.h. libpng reports errors through longjmp back into the function that set the
// jump point; only libpng's C frames (and the C callbacks below) are unwound by it, never a C++
// object's.
#include "serving/image.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace skiff::serving {
namespace {

struct ReadCursor {
  std::string_view bytes;
  size_t offset = 0;
};

void ReadFromMemory(png_structp png, png_bytep out, png_size_t length) {
  auto* cursor = static_cast<ReadCursor*>(png_get_io_ptr(png));
  if (cursor->offset + length > cursor->bytes.size()) png_error(png, "truncated PNG data");
  std::memcpy(out, cursor->bytes.data() + cursor->offset, length);
  cursor->offset += length;
}

void WriteToString(png_structp png, png_bytep data, png_size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<char*>(data), length);
}

void FlushNothing(png_structp) {}

// libpng's error text is copied here before the longjmp, since the message pointer dies with it.
void OnError(png_structp png, png_const_charp message) {
  auto* out = static_cast<char*>(png_get_error_ptr(png));
  std::snprintf(out, 256, "%s", message);
  png_longjmp(png, 1);
}

void OnWarning(png_structp, png_const_charp) {}

}  // namespace

bool LooksLikePng(std::string_view bytes) {
  return bytes.size() >= 8 &&
         png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0;
}

StatusOr<Image> DecodePng(std::string_view bytes) {
  if (!LooksLikePng(bytes)) return Status::BadRequest("not a PNG image (bad signature)");
  char error[256] = "";
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, error, OnError, OnWarning);
  if (png == nullptr) return Status::Internal("libpng: cannot create a reader");
  png_infop info = png_create_info_struct(png);
  ReadCursor cursor{bytes, 0};
  Image image;
  std::vector<png_bytep> rows;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return Status::BadRequest(std::string("cannot decode PNG: ") + error);
  }
  png_set_read_fn(png, &cursor, ReadFromMemory);
  png_set_user_limits(png, 16384, 16384);  // a 16k x 16k bomb is refused before allocation
  png_read_info(png, info);
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (depth == 16) png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  // Alpha composited onto black: a transparent background reads as empty, like MNIST's.
  png_color_16 black{};
  png_set_background(png, &black, PNG_BACKGROUND_GAMMA_SCREEN, 0, 1.0);
  png_read_update_info(png, info);
  image.width = static_cast<int>(png_get_image_width(png, info));
  image.height = static_cast<int>(png_get_image_height(png, info));
  image.channels = png_get_channels(png, info);
  if (image.channels != 1 && image.channels != 3) png_error(png, "unsupported channel layout");
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * image.channels);
  rows.resize(image.height);
  for (int y = 0; y < image.height; ++y) {
    rows[y] = image.pixels.data() + static_cast<size_t>(y) * image.width * image.channels;
  }
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return image;
}

std::vector<float> ToPlanarFloats(const Image& image, int channels, int height, int width) {
  std::vector<float> out(static_cast<size_t>(channels) * height * width);
  auto sample = [&](int x, int y, int c) -> float {
    const uint8_t* p =
        image.pixels.data() + (static_cast<size_t>(y) * image.width + x) * image.channels;
    if (image.channels == channels) return p[c];
    if (channels == 1) return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
    return p[0];  // grey to colour: the same value in every channel
  };
  // Bilinear, sampling at pixel centres (align_corners=False).
  const float sx = static_cast<float>(image.width) / width;
  const float sy = static_cast<float>(image.height) / height;
  for (int y = 0; y < height; ++y) {
    float fy = std::clamp((y + 0.5f) * sy - 0.5f, 0.0f, static_cast<float>(image.height - 1));
    int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, image.height - 1);
    float wy = fy - y0;
    for (int x = 0; x < width; ++x) {
      float fx = std::clamp((x + 0.5f) * sx - 0.5f, 0.0f, static_cast<float>(image.width - 1));
      int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, image.width - 1);
      float wx = fx - x0;
      for (int c = 0; c < channels; ++c) {
        float top = sample(x0, y0, c) * (1 - wx) + sample(x1, y0, c) * wx;
        float bottom = sample(x0, y1, c) * (1 - wx) + sample(x1, y1, c) * wx;
        out[(static_cast<size_t>(c) * height + y) * width + x] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}

StatusOr<std::string> EncodePng(const Image& image) {
  if (image.channels != 1 && image.channels != 3) {
    return Status::BadRequest("EncodePng wants 1 or 3 channels");
  }
  char error[256] = "";
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, error, OnError, OnWarning);
  if (png == nullptr) return Status::Internal("libpng: cannot create a writer");
  png_infop info = png_create_info_struct(png);
  std::string out;
  std::vector<png_bytep> rows(image.height);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return Status::Internal(std::string("cannot encode PNG: ") + error);
  }
  png_set_write_fn(png, &out, WriteToString, FlushNothing);
  png_set_IHDR(png, info, image.width, image.height, 8,
               image.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  for (int y = 0; y < image.height; ++y) {
    rows[y] = const_cast<png_bytep>(image.pixels.data() +
                                    static_cast<size_t>(y) * image.width * image.channels);
  }
  png_set_rows(png, info, rows.data());
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace skiff::serving
