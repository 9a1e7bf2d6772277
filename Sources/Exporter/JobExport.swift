import Foundation
import MedtuneCore
import ModelFiles
import Tokenizers
import Trainer
import Transformer

/// `medtune export`: a recipe turned into a self-contained job folder for another training
/// stack. Everything that decides what is learned is done here by medtune itself, so that it is
/// identical by construction: the records are tokenized and masked by medtune's data pipeline,
/// each epoch's order is medtune's, the LoRA adapters start from medtune's initialisation, and a
/// GGUF base is written out as a Hugging Face folder by medtune's writers and read back.
public struct JobExport {
    public var config: TrainingConfig
    /// Where the recipe came from, for errors.
    public var source: String
    public var engine: ExportEngine
    public var folder: String
    public var shardBytes = HuggingFaceFolder.defaultShardBytes

    public init(config: TrainingConfig, source: String, engine: ExportEngine = .hfTrainer, folder: String? = nil) {
        self.config = config; self.source = source; self.engine = engine
        self.folder = folder ?? "data/exports/\(config.name)"
    }

    /// What an export wrote.
    public struct Summary: Sendable {
        public var folder: String
        public var data: TrainingData
        /// The base model's HF folder as job.json names it.
        public var baseModel: String
        public var maxSteps: Int
    }

    /// Writes the job folder. It is built under a temporary name beside the target and renamed
    /// into place only when complete, so a failed export leaves nothing that looks like a job.
    public func run(note: (String) -> Void = { _ in }) throws -> Summary {
        try HFTrainerKeys.check(config, source: source)
        try StagedFolder.checkFree(folder, what: "job")
        let tokenizerPath = config.tokenizer ?? config.model
        let bpe = try TokenizerLoader.loadBPE(path: tokenizerPath)
        let tokenizer = try ModelTokenizer(bpe, path: tokenizerPath)
        let data = try TrainingData.load(config.data, config: config, tokenizer: tokenizer)
        note("data: \(data.summary)")
        let (model, checkpoint) = try Qwen2Model<Float>.load(path: config.model)

        return try StagedFolder.create(folder, what: "job") { staging in
            try FileManager.default.createDirectory(atPath: staging + "/data", withIntermediateDirectories: true)
            let baseModel: String
            if checkpoint.format == .safetensors {
                baseModel = URL(fileURLWithPath: config.model).standardizedFileURL.path
            } else {
                note("base model: writing \(config.model) as a Hugging Face folder (bfloat16) and reading it back")
                try HuggingFaceFolder.write(checkpoint, tokenizer: bpe, to: staging + "/" + TrainingFiles.baseModel, shardBytes: shardBytes)
                baseModel = TrainingFiles.baseModel
            }
            if let initAdapter = config.initAdapter {
                try LoRASetup.attach(to: model, config: config, from: initAdapter)
            } else {
                LoRASetup.attach(to: model, config: config)
            }
            try PEFTAdapter.save(model, baseModelNameOrPath: config.resolvedBaseModelName, to: staging + "/" + TrainingFiles.initAdapter)

            let plan = EpochPlan(examples: data.train.count, microBatchSize: config.microBatchSize,
                                 accumulation: config.gradientAccumulationSteps, shuffle: config.shuffle, seed: config.seed)
            let job = HFTrainerJob(config: config, baseModel: baseModel, padTokenID: tokenizer.eosTokenID, plan: plan,
                                   outputDir: config.outputDir ?? "run")
            try writeData(data, plan: plan, epochs: (job.maxSteps + plan.stepsPerEpoch - 1) / plan.stepsPerEpoch, to: staging)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(encoder.encode(job), to: staging + "/" + TrainingFiles.job)
            try AtomicFile.write(Data(config.yaml().utf8), to: staging + "/" + TrainingFiles.recipe)
            try JobTexts.write(job: job, config: config, data: data, to: staging)
            return Summary(folder: folder, data: data, baseModel: baseModel, maxSteps: job.maxSteps)
        }
    }

    /// Labels in HF's causal-LM convention, where the model shifts them itself: label i is
    /// token i where medtune trains on predicting it (from position i − 1), else −100. medtune's
    /// own labels are already shifted (label i is what position i predicts), so the two are the
    /// same mask moved by one place.
    public static func huggingFaceLabels(_ example: TrainingExample) -> [Int32] {
        [CrossEntropy.ignoreIndex] + example.labels.dropLast()
    }

    private func writeData(_ data: TrainingData, plan: EpochPlan, epochs: Int, to directory: String) throws {
        func lines(_ examples: [TrainingExample]) -> Data {
            var text = ""
            for example in examples {
                let ids = example.tokens.map(String.init).joined(separator: ",")
                let labels = Self.huggingFaceLabels(example).map(String.init).joined(separator: ",")
                text += "{\"record\":\(example.recordIndex),\"input_ids\":[\(ids)],\"labels\":[\(labels)]}\n"
            }
            return Data(text.utf8)
        }
        try AtomicFile.write(lines(data.train), to: directory + "/" + TrainingFiles.train)
        try AtomicFile.write(lines(data.validation), to: directory + "/" + TrainingFiles.validation)
        try AtomicFile.write(JSONEncoder().encode(data.heldOutIndices), to: directory + "/" + TrainingFiles.heldOutIDs)
        // Positions in data/train.jsonl, one list per epoch the run reaches.
        try AtomicFile.write(JSONEncoder().encode((0..<epochs).map(plan.order)), to: directory + "/" + TrainingFiles.epochOrder)
    }
}
