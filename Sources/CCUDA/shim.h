// Types, constants and function-pointer signatures of the CUDA driver, NVRTC and cuBLASLt entry
// points medtune uses. The libraries are opened with dlopen (see Sources/CUDA), never linked, so
// one medtune binary builds without the CUDA toolkit and runs on machines with or without a GPU.
// Only ABI-stable declarations are copied here; values match cuda.h, nvrtc.h, cublasLt.h and
// library_types.h of CUDA 12 and 13.
#ifndef MEDTUNE_CUDA_SHIM_H
#define MEDTUNE_CUDA_SHIM_H

#include <stddef.h>
#include <stdint.h>

// ---- Driver API (libcuda.so.1) ----
typedef int medtune_cu_result;           // CUresult; 0 is CUDA_SUCCESS
typedef int medtune_cu_device;           // CUdevice
typedef void *medtune_cu_context;        // CUcontext
typedef void *medtune_cu_module;         // CUmodule
typedef void *medtune_cu_function;       // CUfunction
typedef void *medtune_cu_stream;         // CUstream; NULL is the legacy default stream
typedef void *medtune_cu_graph;          // CUgraph
typedef void *medtune_cu_graph_exec;     // CUgraphExec
typedef unsigned long long medtune_cu_deviceptr;  // CUdeviceptr (64-bit on every platform)

enum {
    MEDTUNE_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    MEDTUNE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    MEDTUNE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    MEDTUNE_CU_STREAM_CAPTURE_MODE_RELAXED = 2,  // CUstreamCaptureMode
};

typedef medtune_cu_result (*medtune_cuInit_fn)(unsigned int flags);
typedef medtune_cu_result (*medtune_cuDriverGetVersion_fn)(int *version);
typedef medtune_cu_result (*medtune_cuDeviceGetCount_fn)(int *count);
typedef medtune_cu_result (*medtune_cuDeviceGet_fn)(medtune_cu_device *device, int ordinal);
typedef medtune_cu_result (*medtune_cuDeviceGetName_fn)(char *name, int length, medtune_cu_device device);
typedef medtune_cu_result (*medtune_cuDeviceTotalMem_fn)(size_t *bytes, medtune_cu_device device);
typedef medtune_cu_result (*medtune_cuDeviceGetAttribute_fn)(int *value, int attribute, medtune_cu_device device);
typedef medtune_cu_result (*medtune_cuDevicePrimaryCtxRetain_fn)(medtune_cu_context *context, medtune_cu_device device);
typedef medtune_cu_result (*medtune_cuDevicePrimaryCtxRelease_fn)(medtune_cu_device device);
typedef medtune_cu_result (*medtune_cuCtxSetCurrent_fn)(medtune_cu_context context);
typedef medtune_cu_result (*medtune_cuCtxSynchronize_fn)(void);
typedef medtune_cu_result (*medtune_cuMemAlloc_fn)(medtune_cu_deviceptr *pointer, size_t bytes);
typedef medtune_cu_result (*medtune_cuMemFree_fn)(medtune_cu_deviceptr pointer);
typedef medtune_cu_result (*medtune_cuMemcpyHtoD_fn)(medtune_cu_deviceptr destination, const void *source, size_t bytes);
typedef medtune_cu_result (*medtune_cuMemcpyDtoH_fn)(void *destination, medtune_cu_deviceptr source, size_t bytes);
typedef medtune_cu_result (*medtune_cuMemcpyDtoDAsync_fn)(medtune_cu_deviceptr destination, medtune_cu_deviceptr source, size_t bytes,
                                                           medtune_cu_stream stream);
typedef medtune_cu_result (*medtune_cuMemsetD8Async_fn)(medtune_cu_deviceptr destination, unsigned char value, size_t count,
                                                        medtune_cu_stream stream);
typedef medtune_cu_result (*medtune_cuModuleLoadData_fn)(medtune_cu_module *module, const void *image);
typedef medtune_cu_result (*medtune_cuModuleUnload_fn)(medtune_cu_module module);
typedef medtune_cu_result (*medtune_cuModuleGetFunction_fn)(medtune_cu_function *function, medtune_cu_module module, const char *name);
typedef medtune_cu_result (*medtune_cuLaunchKernel_fn)(medtune_cu_function function,
                                                        unsigned int gridX, unsigned int gridY, unsigned int gridZ,
                                                        unsigned int blockX, unsigned int blockY, unsigned int blockZ,
                                                        unsigned int sharedBytes, medtune_cu_stream stream,
                                                        void **parameters, void **extra);
typedef medtune_cu_result (*medtune_cuStreamCreate_fn)(medtune_cu_stream *stream, unsigned int flags);
typedef medtune_cu_result (*medtune_cuStreamDestroy_fn)(medtune_cu_stream stream);
typedef medtune_cu_result (*medtune_cuStreamBeginCapture_fn)(medtune_cu_stream stream, int mode);
typedef medtune_cu_result (*medtune_cuStreamEndCapture_fn)(medtune_cu_stream stream, medtune_cu_graph *graph);
typedef medtune_cu_result (*medtune_cuGraphInstantiate_fn)(medtune_cu_graph_exec *exec, medtune_cu_graph graph, unsigned long long flags);
typedef medtune_cu_result (*medtune_cuGraphLaunch_fn)(medtune_cu_graph_exec exec, medtune_cu_stream stream);
typedef medtune_cu_result (*medtune_cuGraphExecDestroy_fn)(medtune_cu_graph_exec exec);
typedef medtune_cu_result (*medtune_cuGraphDestroy_fn)(medtune_cu_graph graph);
typedef medtune_cu_result (*medtune_cuGetErrorString_fn)(medtune_cu_result error, const char **text);

// ---- NVRTC (libnvrtc.so.13 / .12) ----
typedef int medtune_nvrtc_result;        // nvrtcResult; 0 is NVRTC_SUCCESS
typedef void *medtune_nvrtc_program;     // nvrtcProgram

typedef medtune_nvrtc_result (*medtune_nvrtcVersion_fn)(int *major, int *minor);
typedef const char *(*medtune_nvrtcGetErrorString_fn)(medtune_nvrtc_result result);
typedef medtune_nvrtc_result (*medtune_nvrtcCreateProgram_fn)(medtune_nvrtc_program *program, const char *source,
                                                               const char *name, int headerCount,
                                                               const char *const *headers, const char *const *includeNames);
typedef medtune_nvrtc_result (*medtune_nvrtcDestroyProgram_fn)(medtune_nvrtc_program *program);
typedef medtune_nvrtc_result (*medtune_nvrtcCompileProgram_fn)(medtune_nvrtc_program program, int optionCount,
                                                                const char *const *options);
typedef medtune_nvrtc_result (*medtune_nvrtcGetSize_fn)(medtune_nvrtc_program program, size_t *bytes);
typedef medtune_nvrtc_result (*medtune_nvrtcGetBytes_fn)(medtune_nvrtc_program program, char *bytes);

// ---- cuBLASLt (libcublasLt.so.13 / .12) ----
typedef int medtune_cublas_status;       // cublasStatus_t; 0 is CUBLAS_STATUS_SUCCESS
typedef void *medtune_cublaslt_handle;
typedef void *medtune_cublaslt_matmul_desc;
typedef void *medtune_cublaslt_layout;
typedef void *medtune_cublaslt_preference;

enum {
    MEDTUNE_CUDA_R_32F = 0,               // cudaDataType_t
    MEDTUNE_CUDA_R_16BF = 14,
    MEDTUNE_CUBLAS_COMPUTE_32F = 68,      // cublasComputeType_t; float32 inputs stay float32 (no TF32)
    MEDTUNE_CUBLAS_OP_N = 0,              // cublasOperation_t
    MEDTUNE_CUBLAS_OP_T = 1,
    MEDTUNE_CUBLASLT_MATMUL_DESC_TRANSA = 3,               // cublasLtMatmulDescAttributes_t (int32)
    MEDTUNE_CUBLASLT_MATMUL_DESC_TRANSB = 4,
    MEDTUNE_CUBLASLT_MATMUL_DESC_EPILOGUE = 7,             // cublasLtEpilogue_t (uint32)
    MEDTUNE_CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,         // const void *, bias of D's type
    MEDTUNE_CUBLASLT_EPILOGUE_BIAS = 4,                    // D = alpha·A·B + beta·C + bias, broadcast over columns
    MEDTUNE_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,  // cublasLtMatmulPreferenceAttributes_t (uint64)
};

typedef struct { uint64_t data[8]; } medtune_cublaslt_algo;
typedef struct {
    medtune_cublaslt_algo algo;
    size_t workspaceSize;
    medtune_cublas_status state;
    float wavesCount;
    int reserved[4];
} medtune_cublaslt_heuristic;

typedef size_t (*medtune_cublasLtGetVersion_fn)(void);
typedef const char *(*medtune_cublasLtGetStatusName_fn)(medtune_cublas_status status);
typedef medtune_cublas_status (*medtune_cublasLtCreate_fn)(medtune_cublaslt_handle *handle);
typedef medtune_cublas_status (*medtune_cublasLtDestroy_fn)(medtune_cublaslt_handle handle);
typedef medtune_cublas_status (*medtune_cublasLtMatmulDescCreate_fn)(medtune_cublaslt_matmul_desc *desc, int computeType, int scaleType);
typedef medtune_cublas_status (*medtune_cublasLtMatmulDescDestroy_fn)(medtune_cublaslt_matmul_desc desc);
typedef medtune_cublas_status (*medtune_cublasLtMatmulDescSetAttribute_fn)(medtune_cublaslt_matmul_desc desc, int attribute,
                                                                            const void *value, size_t bytes);
typedef medtune_cublas_status (*medtune_cublasLtMatrixLayoutCreate_fn)(medtune_cublaslt_layout *layout, int type,
                                                                        uint64_t rows, uint64_t cols, int64_t ld);
typedef medtune_cublas_status (*medtune_cublasLtMatrixLayoutDestroy_fn)(medtune_cublaslt_layout layout);
typedef medtune_cublas_status (*medtune_cublasLtMatmulPreferenceCreate_fn)(medtune_cublaslt_preference *preference);
typedef medtune_cublas_status (*medtune_cublasLtMatmulPreferenceDestroy_fn)(medtune_cublaslt_preference preference);
typedef medtune_cublas_status (*medtune_cublasLtMatmulPreferenceSetAttribute_fn)(medtune_cublaslt_preference preference, int attribute,
                                                                                  const void *value, size_t bytes);
typedef medtune_cublas_status (*medtune_cublasLtMatmulAlgoGetHeuristic_fn)(
    medtune_cublaslt_handle handle, medtune_cublaslt_matmul_desc desc, medtune_cublaslt_layout a, medtune_cublaslt_layout b,
    medtune_cublaslt_layout c, medtune_cublaslt_layout d, medtune_cublaslt_preference preference, int requested,
    medtune_cublaslt_heuristic *results, int *returned);
typedef medtune_cublas_status (*medtune_cublasLtMatmul_fn)(
    medtune_cublaslt_handle handle, medtune_cublaslt_matmul_desc desc, const void *alpha, const void *a, medtune_cublaslt_layout aLayout,
    const void *b, medtune_cublaslt_layout bLayout, const void *beta, const void *c, medtune_cublaslt_layout cLayout,
    void *d, medtune_cublaslt_layout dLayout, const medtune_cublaslt_algo *algo, void *workspace, size_t workspaceBytes,
    medtune_cu_stream stream);

#endif
