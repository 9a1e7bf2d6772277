import MedtuneCore
@testable import ModelFiles

/// Rows of `type` with random payload bytes and sane scales (random f16 scales could be
/// infinities or NaNs); plain types hold Gaussian values.
func randomBlockRows(_ type: StorageType, rows: Int, columns: Int, _ rng: inout SplitMix64) -> [UInt8] {
    let count = rows * columns
    switch type {
    case .f32: return littleEndianBytes((0..<count).map { _ in Float(rng.nextGaussian()) })
    case .f16, .bf16:
        return (0..<count).flatMap { _ -> [UInt8] in
            let v = Float(rng.nextGaussian())
            let bits = type == .f16 ? HalfFloat.half(from: v) : HalfFloat.bfloat(from: v)
            return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
        }
    default:
        var bytes = (0..<(count / type.blockSize * type.blockBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // Where each format keeps its f16 scales.
        let scaleOffsets: [Int] = switch type {
        case .q6_K: [208]
        case .q4_K, .q5_K: [0, 2]
        default: [0]
        }
        for block in stride(from: 0, to: bytes.count, by: type.blockBytes) {
            for offset in scaleOffsets {
                let scale = HalfFloat.half(from: Float(rng.nextDouble() * 0.02 + 0.001))
                bytes[block + offset] = UInt8(scale & 0xFF)
                bytes[block + offset + 1] = UInt8(scale >> 8)
            }
        }
        return bytes
    }
}
