import MedtuneCore
import Transformer

/// Where a run computes: the CPU, or a GPU that the caller has opened (this module knows no GPU
/// library; the command line brings the CUDA backend in through `makeModel`).
public struct TrainingDevice {
    /// What config.yaml records as `device`: "cpu" or "cuda:N".
    public var name: String
    /// What it records as `device_name`: the GPU's own name; nil on the CPU.
    public var gpuName: String?
    /// The precision of the frozen products there: on a GPU the storage of weights and
    /// activations, fixed when the GPU was opened; nil on the CPU, where `matmul_precision`
    /// resolves against the CPU's features.
    public var precision: MatrixPrecision?
    /// The training model on this device, built from the loaded CPU model (which keeps the
    /// adapters: the seam's shared objects).
    public var makeModel: (Qwen2Model<Float>) throws -> any TrainableModel<Float>
    /// Bytes of device memory in use now and at most so far; nil on the CPU.
    public var memory: (() -> (inUse: Int, peak: Int))?

    public init(name: String, gpuName: String?, precision: MatrixPrecision?,
                memory: (() -> (inUse: Int, peak: Int))? = nil,
                makeModel: @escaping (Qwen2Model<Float>) throws -> any TrainableModel<Float>) {
        self.name = name; self.gpuName = gpuName; self.precision = precision; self.memory = memory; self.makeModel = makeModel
    }

    public static let cpu = TrainingDevice(name: "cpu", gpuName: nil, precision: nil) { $0 }
}
