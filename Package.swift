// swift-tools-version:5.9
import PackageDescription

// Release builds let generic numeric kernels (Float for speed, Double for gradient checks)
// specialise across module boundaries, and compile hot loops for the CPU medtune is built on
// (AVX2/AVX-512 FMA where present), as llama.cpp does by default. Build on the machine that runs it.
let numeric: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization", "-target-cpu", "native"], .when(configuration: .release)),
]

let package = Package(
    name: "medtune",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "medtune", targets: ["medtune"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        // C interfaces to system libraries. OpenBLAS is declared here but loaded at run time,
        // so that medtune can choose its kernels before the library initialises.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // CUDA driver, NVRTC and cuBLASLt declarations; the libraries are opened at run time.
        .systemLibrary(name: "CCUDA", path: "Sources/CCUDA"),

        // Hand-written C kernels for instructions Swift cannot reach (bfloat16 dot products on
        // AVX-512 BF16, 8-bit integer dot products on AVX-512 VNNI and AVX2), compiled for every
        // x86-64 and chosen at run time.
        .target(name: "CKernels", path: "Sources/CKernels",
                cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),

        // Numeric core: tensors, BLAS, threading, errors, and the differentiable operations.
        .target(name: "MedtuneCore", dependencies: ["CBLAS", "CKernels"], swiftSettings: numeric, linkerSettings: [.linkedLibrary("dl")]),
        // Data records (JSON / JSONL) and the {Field} template engine, for training, compare and score.
        .target(name: "Records", dependencies: ["MedtuneCore"], swiftSettings: numeric),
        // Model files: safetensors, GGUF, quantized weights, model configs.
        .target(name: "ModelFiles", dependencies: ["MedtuneCore", "CKernels"], swiftSettings: numeric),
        // Byte-level BPE and WordPiece tokenizers.
        .target(name: "Tokenizers", dependencies: ["MedtuneCore", "ModelFiles"], swiftSettings: numeric),
        // Qwen2-style transformer with switchable LoRA adapters.
        .target(name: "Transformer", dependencies: ["MedtuneCore", "ModelFiles"], swiftSettings: numeric),
        // Text generation: KV cache, samplers, prompt templates.
        .target(name: "Generator", dependencies: ["MedtuneCore", "Records", "Transformer", "Tokenizers"], swiftSettings: numeric),
        // LoRA fine-tuning: data, optimiser, schedules, checkpoints, loss curve.
        // Charts drawn as SVG and PNG (loss curves, checkpoint sweeps): a raster, a bitmap font, a PNG encoder.
        .target(name: "Charts", dependencies: ["CZlib"]),
        .target(name: "Trainer", dependencies: ["MedtuneCore", "Records", "Transformer", "Tokenizers", "ModelFiles", "Charts", "Yams"], swiftSettings: numeric),
        // BERT encoder, BERTScore and text-overlap metrics.
        .target(name: "Evaluator", dependencies: ["MedtuneCore", "Records", "ModelFiles", "Tokenizers", "Transformer", "Charts"], swiftSettings: numeric),
        // Measurements for `medtune bench` and `inspect --system`: the GEMM probe, the machine's
        // peak, the training-step benchmark, the tokenizer corpus, memory use. (The weight
        // benchmark times ModelFiles' internal row kernels and stays beside them.)
        .target(name: "Bench", dependencies: ["MedtuneCore", "Records", "ModelFiles", "Tokenizers", "Transformer", "Trainer"], swiftSettings: numeric),
        // `medtune export`: a recipe as a job folder for another training stack (HF Trainer + PEFT
        // under accelerate / torchrun), with the data tokenized by medtune and the base in HF form.
        .target(name: "Exporter", dependencies: ["MedtuneCore", "Records", "ModelFiles", "Tokenizers", "Transformer", "Trainer"], swiftSettings: numeric),
        // Model and dataset downloads over HTTP.
        .target(name: "Hub", dependencies: ["MedtuneCore", "CCurl", .product(name: "Crypto", package: "swift-crypto")]),
        // NVIDIA GPU backend: driver, NVRTC-compiled kernels (cached by source hash), cuBLASLt GEMM.
        .target(name: "CUDA", dependencies: ["MedtuneCore", "CCUDA", .product(name: "Crypto", package: "swift-crypto")]),
        // Qwen2 inference on the GPU: the CUDA primitives behind the model seam of Transformer.
        .target(name: "CUDATransformer", dependencies: ["MedtuneCore", "ModelFiles", "Transformer", "CUDA"], swiftSettings: numeric),

        .executableTarget(name: "medtune", dependencies: [
            "MedtuneCore", "Records", "ModelFiles", "Tokenizers", "Transformer", "Generator", "Trainer", "Evaluator", "Hub", "CUDA", "CUDATransformer", "Bench", "Exporter",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Subprocess", package: "swift-subprocess"),
        ], swiftSettings: numeric),

        .target(name: "TestSupport", dependencies: ["MedtuneCore", "Transformer"], path: "Tests/TestSupport"),
        .testTarget(name: "MedtuneCoreTests", dependencies: ["MedtuneCore", "TestSupport"]),
        .testTarget(name: "ModelFilesTests", dependencies: ["ModelFiles", "TestSupport"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "Bench", "TestSupport"]),
        .testTarget(name: "TransformerTests", dependencies: ["Transformer", "TestSupport"]),
        .testTarget(name: "GeneratorTests", dependencies: ["Generator", "TestSupport"]),
        .testTarget(name: "TrainerTests", dependencies: ["Trainer", "Charts", "Records", "TestSupport", "CZlib"]),
        .testTarget(name: "ExporterTests", dependencies: ["Exporter", "Trainer", "Transformer", "Tokenizers", "ModelFiles", "Generator", "TestSupport"]),
        .testTarget(name: "EvaluatorTests", dependencies: ["Evaluator", "Charts", "TestSupport"]),
        .testTarget(name: "HubTests", dependencies: ["Hub", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "CUDATests", dependencies: ["CUDA", "TestSupport"]),
        // Runs the built `medtune` binary: argv, signals, exit statuses, one-line errors.
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
    ]
)
