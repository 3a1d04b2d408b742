#include "cli/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

namespace inplaced::cli {

bool IsTerminal(int fd) { return isatty(fd) == 1; }

void LiveBlock::Draw(const std::string& text) {
  if (lines_drawn_ > 0) out_ << "\x1b[" << lines_drawn_ << "A";  // cursor up to the block's start
  out_ << "\r\x1b[J" << text;                                    // erase from there down, redraw
  out_.flush();
  lines_drawn_ = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

int TerminalWidth(int fd, int fallback) {
  winsize size{};
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return fallback;
}

}  // namespace inplaced::cli
