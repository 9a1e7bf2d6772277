import ArgumentParser
import ModelFiles

/// The float element types medtune writes weights in, as command-line values: f32, f16, bf16.
enum FloatStorage: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16

    var type: StorageType { self == .f32 ? .f32 : self == .f16 ? .f16 : .bf16 }
}
