#pragma once

// Live output: whether stdout is a terminal, and a block of lines redrawn in place there.

#include <ostream>
#include <string>

namespace inplaced::cli {

// True when `fd` is a terminal (isatty). Commands redraw in place only then; on a pipe or file they
// print plain lines that a script or a log can read.
bool IsTerminal(int fd);

// A block of text at the bottom of a terminal that each Draw replaces: the cursor goes back up over
// the previous block, which is cleared, and the new text is written. Uses only ANSI CSI sequences
// (cursor up, erase below), which every terminal emulator understands. Lines must not wrap: callers
// fit them to the terminal's width.
class LiveBlock {
 public:
  explicit LiveBlock(std::ostream& out) : out_(out) {}
  // `text`: lines each ending in '\n'.
  void Draw(const std::string& text);

 private:
  std::ostream& out_;
  int lines_drawn_ = 0;
};

// The terminal's width in columns (TIOCGWINSZ on `fd`), or `fallback` when unknown.
int TerminalWidth(int fd, int fallback = 100);

}  // namespace inplaced::cli
