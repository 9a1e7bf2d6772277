/// Where a command computes, as `--device` spells it: `auto`, `cpu`, `cuda` (GPU 0) or `cuda:N`.
public enum DeviceChoice: Equatable, Sendable, CustomStringConvertible {
    /// A usable GPU if there is one, else the CPU.
    case auto
    case cpu
    case cuda(index: Int)

    public init(parsing text: String) throws {
        switch text {
        case "auto": self = .auto
        case "cpu": self = .cpu
        case "cuda": self = .cuda(index: 0)
        default:
            guard text.hasPrefix("cuda:") else {
                throw InputError("--device \(InputError.excerpt(text)): expected auto, cpu, cuda or cuda:N")
            }
            let number = text.dropFirst("cuda:".count)
            // Digits only: Int("+1") would accept a sign.
            guard !number.isEmpty, number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber), let index = Int(number) else {
                throw InputError("--device \(InputError.excerpt(text)): the GPU index must be a number, as in cuda:0")
            }
            self = .cuda(index: index)
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .cpu: return "cpu"
        case .cuda(let index): return "cuda:\(index)"
        }
    }
}
