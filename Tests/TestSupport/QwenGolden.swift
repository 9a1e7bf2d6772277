import Foundation

/// Reference outputs of HF transformers (+ PEFT) on the real Qwen2.5-Coder-0.5B-Instruct GGUF,
/// made by scripts/golden/qwen_forward.py.
public struct QwenGolden: Decodable {
    public struct Logits: Decodable {
        public var ids: [Int]
        public var values: [Double]
        public var logsumexp: Double
    }
    public struct Run: Decodable {
        public var last_logits: [Logits]
        public var greedy: [[Int32]]
    }
    public var prompts: [[Int32]]
    public var greedy_prompts: [Int]
    public var base: Run
    public var adapter: Run

    public static func load() throws -> QwenGolden {
        try JSONDecoder().decode(QwenGolden.self, from: Data(contentsOf: TestPaths.golden("Transformer/qwen_forward.json")))
    }

    /// The PEFT adapter the `adapter` outputs were made with.
    public static var adapterDirectory: URL { TestPaths.golden("Transformer/adapter") }
}
