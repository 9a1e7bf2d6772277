// Types and function-pointer signatures of the CBLAS/OpenBLAS entry points medtune uses.
// The library itself is opened with dlopen (see MedtuneCore/BLAS), never linked, so that
// OPENBLAS_CORETYPE can be chosen before OpenBLAS reads it in its load-time constructor.
#ifndef MEDTUNE_CBLAS_SHIM_H
#define MEDTUNE_CBLAS_SHIM_H

enum MEDTUNE_CBLAS_ORDER { MedtuneCblasRowMajor = 101, MedtuneCblasColMajor = 102 };
enum MEDTUNE_CBLAS_TRANSPOSE { MedtuneCblasNoTrans = 111, MedtuneCblasTrans = 112 };

typedef void (*medtune_sgemm_fn)(int order, int transA, int transB, int m, int n, int k,
                                 float alpha, const float *a, int lda, const float *b, int ldb,
                                 float beta, float *c, int ldc);
typedef void (*medtune_dgemm_fn)(int order, int transA, int transB, int m, int n, int k,
                                 double alpha, const double *a, int lda, const double *b, int ldb,
                                 double beta, double *c, int ldc);
typedef void (*medtune_sgemv_fn)(int order, int trans, int m, int n, float alpha, const float *a,
                                 int lda, const float *x, int incx, float beta, float *y, int incy);
typedef void (*medtune_dgemv_fn)(int order, int trans, int m, int n, double alpha, const double *a,
                                 int lda, const double *x, int incx, double beta, double *y, int incy);
typedef char *(*medtune_string_fn)(void);
typedef int (*medtune_int_fn)(void);
typedef void (*medtune_set_threads_fn)(int);

#endif
