// ThreadSanitizer does not know threads made with C11 thrd_create in this toolchain: its
// runtime intercepts pthread_create but has no thrd_create interceptor, and glibc's
// thrd_create (2.34+) calls its internal __pthread_create_2_1 directly. Debian's librdkafka
// 2.0.2 makes every thread that way (tinycthread maps to glibc's C11 threads), so the first
// malloc on such a thread runs in TSan's allocator with no per-thread state and the test
// process dies with SIGSEGV (seen in getaddrinfo on an "rdk:broker" thread).
//
// The same holds for the rest of C11 threads: glibc's thrd_join, mtx_* and cnd_* call
// internal pthread functions, so TSan would miss librdkafka's joins (reporting every thread
// as leaked) and its locking (so that memcpy/strlen calls it makes under a lock, which TSan's
// interceptors do record, could be reported as races).
//
// Under TSan only, this file defines the C11 functions librdkafka imports on top of their
// pthread equivalents, which TSan does intercept; glibc's own versions are the same thin
// wrappers (mtx_t and cnd_t are pthread's types). The test executable exports them, and the
// dynamic linker binds librdkafka's thrd_create@GLIBC_2.34 etc. to them as it binds other
// libraries' calls to TSan's own unversioned interceptors. Other builds compile this file to
// nothing.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>
#include <errno.h>

struct tsan_thrd_start {
    thrd_start_t function;
    void *argument;
};

static void *tsan_thrd_trampoline(void *opaque) {
    struct tsan_thrd_start start = *(struct tsan_thrd_start *)opaque;
    free(opaque);
    // glibc's thrd_join reads the int result back from the pointer-sized pthread result.
    return (void *)(intptr_t)start.function(start.argument);
}

int thrd_create(thrd_t *thread, thrd_start_t function, void *argument) {
    struct tsan_thrd_start *start = malloc(sizeof *start);
    if (start == NULL) return thrd_nomem;
    start->function = function;
    start->argument = argument;
    int error = pthread_create(thread, NULL, tsan_thrd_trampoline, start);
    if (error == 0) return thrd_success;
    free(start);
    return error == ENOMEM ? thrd_nomem : thrd_error;
}

int thrd_join(thrd_t thread, int *result) {
    void *value = NULL;
    if (pthread_join(thread, &value) != 0) return thrd_error;
    if (result != NULL) *result = (int)(intptr_t)value;
    return thrd_success;
}

int mtx_init(mtx_t *mutex, int type) {
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    if (type & mtx_recursive) pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
    int error = pthread_mutex_init((pthread_mutex_t *)mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
    return error == 0 ? thrd_success : thrd_error;
}

int mtx_lock(mtx_t *mutex) { return pthread_mutex_lock((pthread_mutex_t *)mutex) == 0 ? thrd_success : thrd_error; }
int mtx_unlock(mtx_t *mutex) { return pthread_mutex_unlock((pthread_mutex_t *)mutex) == 0 ? thrd_success : thrd_error; }
void mtx_destroy(mtx_t *mutex) { pthread_mutex_destroy((pthread_mutex_t *)mutex); }

int cnd_init(cnd_t *condition) { return pthread_cond_init((pthread_cond_t *)condition, NULL) == 0 ? thrd_success : thrd_error; }
int cnd_signal(cnd_t *condition) { return pthread_cond_signal((pthread_cond_t *)condition) == 0 ? thrd_success : thrd_error; }
int cnd_broadcast(cnd_t *condition) { return pthread_cond_broadcast((pthread_cond_t *)condition) == 0 ? thrd_success : thrd_error; }
void cnd_destroy(cnd_t *condition) { pthread_cond_destroy((pthread_cond_t *)condition); }

int cnd_wait(cnd_t *condition, mtx_t *mutex) {
    return pthread_cond_wait((pthread_cond_t *)condition, (pthread_mutex_t *)mutex) == 0 ? thrd_success : thrd_error;
}

int cnd_timedwait(cnd_t *restrict condition, mtx_t *restrict mutex, const struct timespec *restrict until) {
    int error = pthread_cond_timedwait((pthread_cond_t *)condition, (pthread_mutex_t *)mutex, until);
    return error == 0 ? thrd_success : error == ETIMEDOUT ? thrd_timedout : thrd_error;
}
#endif
#endif
