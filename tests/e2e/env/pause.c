/* The e2e sandbox ("pause") process: holds the pod's namespaces open and does nothing else.
 * Sleeps in pause(); exits 0 on SIGTERM or SIGINT; reaps any child re-parented to it (it may be PID 1 of a
 * pod PID namespace). Built with `gcc -static` into the localhost/pause:1 test image. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static void handle(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = fn;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) != 0) exit(1);
}

int main(void) {
  handle(SIGTERM, on_stop);
  handle(SIGINT, on_stop);
  handle(SIGCHLD, on_child);
  for (;;) pause();
  return 0;
}
