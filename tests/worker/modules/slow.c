// Sleeps config.sleep_ms (default 1000) in 50 ms steps, reporting progress, then writes /out/done.txt
// ("done attempt N": which attempt wrote the file). With config "quiet": 1 it sleeps in one go and reports
// nothing, so a stalled worker that wakes up finishes its module before any write to the store.
#include <stdlib.h>
#include <time.h>

#include "wasmq.h"

int main(void) {
  char* task = read_stdin();
  long total = json_int(task, "sleep_ms", 1000);
  if (json_int(task, "quiet", 0)) {
    struct timespec ts = {total / 1000, (total % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  } else {
    long steps = total / 50 > 0 ? total / 50 : 1;
    for (long i = 0; i < steps; ++i) {
      struct timespec ts = {0, 50 * 1000000L};
      nanosleep(&ts, NULL);
      char msg[64];
      snprintf(msg, sizeof msg, "step %ld of %ld", i + 1, steps);
      wasmq_progress((int)((i + 1) * 100 / steps), msg);
    }
  }
  FILE* f = fopen("/out/done.txt", "w");
  if (!f) return 3;
  const char* attempt = getenv("WASMQ_ATTEMPT");
  fprintf(f, "done attempt %s\n", attempt ? attempt : "?");
  fclose(f);
  return 0;
}
