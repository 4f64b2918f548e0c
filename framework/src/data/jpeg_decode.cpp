#include "data/jpeg_decode.h"

// jpeglib.h needs size_t and FILE declared first.
#include <cstdio>
#include <jpeglib.h>

#include <csetjmp>
#include <cstring>

namespace mike::data {

namespace {

// libjpeg reports errors by calling error_exit, which must not return: it
// jumps back to decode_jpeg's setjmp. Only C frames (libjpeg's) and
// decode_jpeg itself lie between, and decode_jpeg creates no object with a
// destructor after its setjmp.
struct ErrorManager {
  jpeg_error_mgr base;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void fail(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Level -1 is a warning: corrupt data libjpeg would decode anyway (grey
// blocks for a truncated file). Refused like an error; trace messages
// (level >= 0) are dropped.
void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) fail(cinfo);
}

void on_progress(j_common_ptr cinfo) {
  auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (decompress->input_scan_number > kMaxJpegScans) {
    auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
    std::snprintf(errors->message, sizeof errors->message, "more than %d scans (a progressive file built to be slow)",
                  kMaxJpegScans);
    std::longjmp(errors->jump, 1);
  }
}

}  // namespace

bool looks_like_jpeg(const unsigned char* bytes, std::size_t size) {
  return size >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8;
}

bool decode_jpeg(const unsigned char* bytes, std::size_t size, const ImageSizeCheck& size_check, Image* image,
                 std::string* reason) {
  jpeg_decompress_struct cinfo;
  ErrorManager errors;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = fail;
  errors.base.emit_message = on_message;
  errors.message[0] = '\0';
  errors.progress.progress_monitor = on_progress;
  std::string refused;  // set before any longjmp can happen
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    *reason = std::string("it is a damaged or unsupported JPEG (libjpeg: ") + errors.message + ")";
    return false;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &errors.progress;
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  refused = size_check(static_cast<int>(cinfo.image_width), static_cast<int>(cinfo.image_height));
  if (!refused.empty()) {
    jpeg_destroy_decompress(&cinfo);
    *reason = refused;
    return false;
  }
  cinfo.out_color_space = JCS_RGB;  // grey and YCbCr convert; CMYK is refused by libjpeg
  jpeg_start_decompress(&cinfo);
  image->width = static_cast<int>(cinfo.output_width);
  image->height = static_cast<int>(cinfo.output_height);
  const std::size_t row_bytes = static_cast<std::size_t>(image->width) * 3;
  image->rgb.assign(row_bytes * static_cast<std::size_t>(image->height), 0);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = image->rgb.data() + row_bytes * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace mike::data
