import CUDA
import CUDATransformer
import MedtuneCore
import Trainer

extension TrainingDevice {
    /// The device a recipe's `device` names, opened: on a GPU its kernels are compiled in the
    /// storage `matmul_precision` asks for (float32 for exact runs, else bfloat16), and the
    /// training model is a `CUDAQwen2Trainer`. auto takes GPU 0 when one works, else the CPU.
    static func open(_ device: String, matmulPrecision: TrainingConfig.MatmulPrecision) throws -> TrainingDevice {
        let choice: DeviceChoice
        do { choice = try DeviceChoice(parsing: device) } catch let error as InputError { throw InputError(at: "key device", error.message) }
        let storage: CUDAKernelSource.Storage = matmulPrecision == .float32 ? .float32 : .bfloat16
        guard let gpu = try DeviceOptions.openGPU(choice, storage: storage) else { return .cpu }
        let index = if case .cuda(let index) = choice { index } else { 0 }
        return cuda(gpu, name: "cuda:\(index)")
    }

    /// An opened GPU as a training device: `CUDAQwen2Trainer` models in the GPU's storage.
    static func cuda(_ gpu: DeviceOptions.GPU, name: String) -> TrainingDevice {
        let device = gpu.kernels.device
        return TrainingDevice(name: name, gpuName: device.info.name, precision: gpu.kernels.storage == .float32 ? .float32 : .bfloat16,
                              memory: { (device.memoryInUse, device.peakMemory) }) { model in
            try CUDAQwen2Trainer(model, kernels: gpu.kernels, blas: gpu.blas)
        }
    }
}
