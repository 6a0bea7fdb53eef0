// clock_random: clocks, random_get, poll_oneoff (clock and fd subscriptions), sched_yield, proc_raise and
// the sock_* calls (wasmq hands out no sockets).
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "raw.h"

static __wasi_timestamp_t now(__wasi_clockid_t id) {
  __wasi_timestamp_t t = 0;
  if (__wasi_clock_time_get(id, 1, &t) != 0) return 0;
  return t;
}

static void clocks(void) {
  CHECK(now(__WASI_CLOCKID_REALTIME) > 1600000000ull * 1000000000ull);  // after 2020
  __wasi_timestamp_t a = now(__WASI_CLOCKID_MONOTONIC), b = now(__WASI_CLOCKID_MONOTONIC);
  CHECK(a > 0 && b >= a);
  volatile double x = 0;
  for (int i = 0; i < 1000000; ++i) x += i;
  CHECK(x > 0);
  CHECK(now(__WASI_CLOCKID_PROCESS_CPUTIME_ID) > 0);
  CHECK(now(__WASI_CLOCKID_THREAD_CPUTIME_ID) > 0);
  __wasi_timestamp_t t;
  CHECK_WASI(__wasi_clock_time_get(4, 1, &t), __WASI_ERRNO_INVAL);
  CHECK_WASI(__wasi_clock_time_get(0xffffffffu, 1, &t), __WASI_ERRNO_INVAL);
  CHECK_WASI(__wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &t), 0);
  CHECK(t > 0 && t <= 1000000);
  CHECK_WASI(__wasi_clock_res_get(9, &t), __WASI_ERRNO_INVAL);
  CHECK_WASI(raw_clock_time_get(0, 1, BAD_PTR), __WASI_ERRNO_FAULT);
  struct timespec ts;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && (ts.tv_sec > 0 || ts.tv_nsec > 0));
  CHECK(time(NULL) > 1600000000);
}

static void randomness(void) {
  uint8_t a[32] = {0}, b[32] = {0};
  CHECK_WASI(__wasi_random_get(a, sizeof a), 0);
  CHECK_WASI(__wasi_random_get(b, sizeof b), 0);
  CHECK(memcmp(a, b, sizeof a) != 0);
  int zero = 0;
  for (int i = 0; i < 32; ++i) zero += a[i] == 0;
  CHECK(zero < 8);
  CHECK_WASI(__wasi_random_get(a, 0), 0);
  CHECK_WASI(raw_random_get(BAD_PTR, 1000), __WASI_ERRNO_FAULT);
  CHECK_WASI(raw_random_get(PTR(a), 0x7fffffff), __WASI_ERRNO_FAULT);
  CHECK(arc4random() != arc4random() || arc4random() != arc4random());
}

static __wasi_subscription_t clock_sub(uint64_t userdata, __wasi_clockid_t id, uint64_t timeout, int abs) {
  __wasi_subscription_t s;
  memset(&s, 0, sizeof s);
  s.userdata = userdata;
  s.u.tag = __WASI_EVENTTYPE_CLOCK;
  s.u.u.clock.id = id;
  s.u.u.clock.timeout = timeout;
  s.u.u.clock.flags = abs ? __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME : 0;
  return s;
}

static __wasi_subscription_t fd_sub(uint64_t userdata, __wasi_eventtype_t type, __wasi_fd_t fd) {
  __wasi_subscription_t s;
  memset(&s, 0, sizeof s);
  s.userdata = userdata;
  s.u.tag = type;
  s.u.u.fd_read.file_descriptor = fd;
  return s;
}

static void polling(void) {
  const uint64_t ms = 1000000;
  __wasi_event_t ev[4];
  __wasi_size_t n = 0;

  // a relative clock sleeps at least its timeout
  __wasi_subscription_t s1 = clock_sub(42, __WASI_CLOCKID_MONOTONIC, 100 * ms, 0);
  __wasi_timestamp_t t0 = now(__WASI_CLOCKID_MONOTONIC);
  CHECK_WASI(__wasi_poll_oneoff(&s1, ev, 1, &n), 0);
  __wasi_timestamp_t dt = now(__WASI_CLOCKID_MONOTONIC) - t0;
  CHECK(n == 1 && ev[0].userdata == 42 && ev[0].type == __WASI_EVENTTYPE_CLOCK && ev[0].error == 0);
  CHECK(dt >= 100 * ms && dt < 2000 * ms);

  // an absolute one, on the realtime clock
  __wasi_subscription_t s2 = clock_sub(7, __WASI_CLOCKID_REALTIME, now(__WASI_CLOCKID_REALTIME) + 50 * ms, 1);
  t0 = now(__WASI_CLOCKID_MONOTONIC);
  CHECK_WASI(__wasi_poll_oneoff(&s2, ev, 1, &n), 0);
  dt = now(__WASI_CLOCKID_MONOTONIC) - t0;
  CHECK(n == 1 && ev[0].userdata == 7);
  CHECK(dt >= 40 * ms && dt < 2000 * ms);

  // two clocks: only the earlier fires
  __wasi_subscription_t two[2] = {clock_sub(1, __WASI_CLOCKID_MONOTONIC, 10 * 1000 * ms, 0),
                                  clock_sub(2, __WASI_CLOCKID_MONOTONIC, 30 * ms, 0)};
  CHECK_WASI(__wasi_poll_oneoff(two, ev, 2, &n), 0);
  CHECK(n == 1 && ev[0].userdata == 2);

  // stdout is writable at once, long before the clock
  __wasi_subscription_t w[2] = {clock_sub(1, __WASI_CLOCKID_MONOTONIC, 10 * 1000 * ms, 0),
                                fd_sub(5, __WASI_EVENTTYPE_FD_WRITE, 1)};
  t0 = now(__WASI_CLOCKID_MONOTONIC);
  CHECK_WASI(__wasi_poll_oneoff(w, ev, 2, &n), 0);
  CHECK(n == 1 && ev[0].userdata == 5 && ev[0].type == __WASI_EVENTTYPE_FD_WRITE && ev[0].error == 0);
  CHECK(now(__WASI_CLOCKID_MONOTONIC) - t0 < 1000 * ms);

  // a bad fd is reported in its event; a clock without a valid id too
  __wasi_subscription_t bad[2] = {fd_sub(9, __WASI_EVENTTYPE_FD_READ, 99), clock_sub(3, 77, 0, 0)};
  CHECK_WASI(__wasi_poll_oneoff(bad, ev, 2, &n), 0);
  CHECK(n == 2 && ev[0].userdata == 9 && ev[0].error == __WASI_ERRNO_BADF &&
        ev[1].error == __WASI_ERRNO_INVAL);

  // malformed calls
  CHECK_WASI(__wasi_poll_oneoff(&s1, ev, 0, &n), __WASI_ERRNO_INVAL);
  CHECK_WASI(raw_poll_oneoff(BAD_PTR, PTR(ev), 1, PTR(&n)), __WASI_ERRNO_FAULT);
  CHECK_WASI(raw_poll_oneoff(PTR(&s1), BAD_PTR, 1, PTR(&n)), __WASI_ERRNO_FAULT);
  __wasi_subscription_t weird = s1;
  weird.u.tag = 9;
  CHECK_WASI(__wasi_poll_oneoff(&weird, ev, 1, &n), __WASI_ERRNO_INVAL);

  // libc sleeps go through poll_oneoff
  t0 = now(__WASI_CLOCKID_MONOTONIC);
  CHECK(usleep(30000) == 0);
  struct timespec ts = {0, 20 * 1000 * 1000};
  CHECK(nanosleep(&ts, NULL) == 0);
  CHECK(now(__WASI_CLOCKID_MONOTONIC) - t0 >= 50 * ms);
}

static void misc(void) {
  CHECK_WASI(__wasi_sched_yield(), 0);
  CHECK_WASI(raw_proc_raise(6), __WASI_ERRNO_NOSYS);
  __wasi_fd_t fd;
  CHECK_WASI(__wasi_sock_accept(1, 0, &fd), __WASI_ERRNO_NOTSOCK);
  CHECK_WASI(__wasi_sock_accept(77, 0, &fd), __WASI_ERRNO_BADF);
  uint8_t b[8];
  __wasi_iovec_t iov = {b, sizeof b};
  __wasi_ciovec_t ciov = {b, sizeof b};
  __wasi_size_t sz;
  __wasi_roflags_t ro;
  CHECK_WASI(__wasi_sock_recv(77, &iov, 1, 0, &sz, &ro), __WASI_ERRNO_BADF);
  CHECK_WASI(__wasi_sock_recv(0, &iov, 1, 0, &sz, &ro), __WASI_ERRNO_NOTSOCK);
  CHECK_WASI(__wasi_sock_send(77, &ciov, 1, 0, &sz), __WASI_ERRNO_BADF);
  CHECK_WASI(__wasi_sock_send(1, &ciov, 1, 0, &sz), __WASI_ERRNO_NOTSOCK);
  CHECK_WASI(__wasi_sock_shutdown(77, __WASI_SDFLAGS_WR), __WASI_ERRNO_BADF);
  CHECK_WASI(__wasi_sock_shutdown(2, __WASI_SDFLAGS_WR), __WASI_ERRNO_NOTSOCK);
}

int main(void) {
  clocks();
  randomness();
  polling();
  misc();
  REPORT();
}
