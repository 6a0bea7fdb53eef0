// Clang's thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html), so that
// "guarded by mu_" is a fact the compiler checks (-Wthread-safety in the clang builds) instead of a
// comment. Under GCC they expand to nothing.
#ifndef WASMQ_BASE_THREAD_ANNOTATIONS_H_
#define WASMQ_BASE_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define WASMQ_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define WASMQ_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) WASMQ_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY WASMQ_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) WASMQ_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) WASMQ_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) WASMQ_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) WASMQ_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) WASMQ_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) WASMQ_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) WASMQ_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) WASMQ_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) WASMQ_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) WASMQ_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) WASMQ_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS WASMQ_THREAD_ANNOTATION(no_thread_safety_analysis)

#endif  // WASMQ_BASE_THREAD_ANNOTATIONS_H_
