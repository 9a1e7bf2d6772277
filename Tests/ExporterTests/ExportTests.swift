import Foundation
import MedtuneCore
import ModelFiles
import TestSupport
import Tokenizers
import Trainer
import Transformer
import XCTest
@testable import Exporter

/// `medtune export --engine hf-trainer`: the job folder's data are medtune's own examples, a GGUF
/// base comes out as an HF folder that loads back as the same model, train.py compiles (and, where
/// a Python with torch, transformers and peft is at hand, trains as medtune does), and a recipe
/// key the engine cannot express is refused by name.
final class ExportTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-export") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A tiny recipe over the tiny HF folder: ASCII records, so that tokens are bytes.
    func tinyRecipe() throws -> TrainingConfig {
        let model = directory.appendingPathComponent("tiny-model")
        try TinyHFFolder.write(to: model)
        let records = (0..<7).map { i in
            #"{"Question": "q\#(i) why?", "Complex_CoT": "think \#(i) twice", "Response": "answer \#(String(repeating: "x", count: i))"}"#
        }
        let data = directory.appendingPathComponent("records.jsonl")
        try records.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        var config = TrainingConfig()
        config.name = "tiny"
        config.model = model.path
        config.data = data.path
        config.promptTemplate = "Q: {Question}\nA: "
        config.analysisTemplate = "{Complex_CoT}\n"
        config.lossOn = .afterPrompt
        config.validationCount = 2
        config.shuffle = false
        config.loraR = 2; config.loraAlpha = 4; config.loraDropout = 0
        config.microBatchSize = 2; config.gradientAccumulationSteps = 2; config.maxSteps = 2
        config.learningRate = 1e-2; config.lrScheduler = .constant
        config.loggingSteps = 1; config.evalSteps = 1; config.saveSteps = 0
        config.matmulPrecision = .float32
        return config
    }

    func jsonLines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func testTinyExportCarriesMedtunesExamplesAndMasks() throws {
        let config = try tinyRecipe()
        let folder = directory.appendingPathComponent("job")
        let summary = try JobExport(config: config, source: "tiny.yaml", folder: folder.path).run()

        let path = config.model
        let expected = try TrainingData.load(config.data, config: config, tokenizer: ModelTokenizer(TokenizerLoader.load(path: path), path: path))
        for (file, examples) in [("data/train.jsonl", expected.train), ("data/validation.jsonl", expected.validation)] {
            let rows = try jsonLines(folder.appendingPathComponent(file))
            XCTAssertEqual(rows.count, examples.count, file)
            for (row, example) in zip(rows, examples) {
                let ids = try XCTUnwrap(row["input_ids"] as? [Int]), labels = try XCTUnwrap(row["labels"] as? [Int])
                XCTAssertEqual(ids, example.tokens.map(Int.init))
                // HF shifts labels inside the model: its label i is medtune's label i - 1.
                XCTAssertEqual(labels.first, -100)
                XCTAssertEqual(Array(labels.dropFirst()), example.labels.dropLast().map(Int.init), file)
            }
        }
        // The prompt is masked, the analysis, the answer and EOS are not.
        let first = try XCTUnwrap(jsonLines(folder.appendingPathComponent("data/train.jsonl")).first)
        let labels = try XCTUnwrap(first["labels"] as? [Int])
        XCTAssertEqual(labels.prefix("Q: q0 why?\nA: ".utf8.count), ArraySlice(repeating: -100, count: "Q: q0 why?\nA: ".utf8.count))
        XCTAssertEqual(labels.last, 256)

        XCTAssertEqual(try JSONDecoder().decode([Int].self, from: Data(contentsOf: folder.appendingPathComponent("data/heldout_ids.json"))),
                       expected.heldOutIndices)
        let job = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("job.json"))) as? [String: Any])
        XCTAssertEqual(job["base_model"] as? String, config.model, "an HF folder base is referenced where it is")
        XCTAssertEqual(job["max_steps"] as? Int, 2)
        XCTAssertEqual(summary.maxSteps, 2)
        XCTAssertEqual(job["lr_scheduler"] as? String, "constant_with_warmup")
        for file in ["train.py", "requirements.txt", "launch.sh", "README.md", "config.yaml", "accelerate/single.yaml",
                     "accelerate/ddp.yaml", "accelerate/fsdp.yaml", "init_adapter/adapter_config.json", "data/epoch_order.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), file)
        }
        try assertPythonCompiles(folder.appendingPathComponent("train.py"))
        try assertShellParses(folder.appendingPathComponent("launch.sh"))
    }

    func testRefusesARecipeKeyTheEngineCannotExpressByName() throws {
        var config = try tinyRecipe()
        config.earlyStoppingPatience = 2
        let folder = directory.appendingPathComponent("job")
        XCTAssertThrowsError(try JobExport(config: config, source: "tiny.yaml", folder: folder.path).run()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("tiny.yaml: key early_stopping_patience: the hf-trainer engine cannot express 2"), text)
            XCTAssertFalse(text.contains("\n"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path))
    }

    /// The command as a user runs it: the recipe file named, one line on standard error, status 1.
    func testTheCommandRefusesOnOneLineNamingTheRecipe() throws {
        let config = try tinyRecipe()
        let recipe = directory.appendingPathComponent("recipe.yaml")
        try "model: \(config.model)\ndata: \(config.data)\nvalidation_count: 2\nearly_stopping_patience: 3\n".write(to: recipe, atomically: true, encoding: .utf8)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("medtune").path
        let result = try run(FileManager.default.isExecutableFile(atPath: binary) ? binary : TestPaths.repository.appendingPathComponent(".build/release/medtune").path,
                             ["export", "--config", recipe.path, "--output", directory.appendingPathComponent("job").path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.output.hasPrefix("error: \(recipe.path): key early_stopping_patience: the hf-trainer engine cannot express 3"), result.output)
        XCTAssertEqual(result.output.split(separator: "\n").count, 1, result.output)
    }

    func testRefusesAFolderThatHoldsSomething() throws {
        let config = try tinyRecipe()
        let folder = directory.appendingPathComponent("job")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data().write(to: folder.appendingPathComponent("keep"))
        XCTAssertThrowsError(try JobExport(config: config, source: "tiny.yaml", folder: folder.path).run()) { error in
            XCTAssertTrue("\(error)".hasPrefix(folder.path + ": already exists and is not an empty folder"), "\(error)")
        }
    }

    /// The real Qwen2.5 GGUF with the tutorial's templates on the shared medical records: the
    /// export's examples are medtune's, and the HF folder it writes (sharded here) loads in medtune
    /// as the GGUF's model with its weights rounded to bfloat16.
    func testGGUFBaseBecomesAnHFFolderThatLoadsBack() throws {
        let gguf = try TestPaths.require(TestPaths.qwenGGUF).path
        var config = TrainingConfig()
        config.model = gguf
        config.data = try TestPaths.require(TestPaths.sharedData.appendingPathComponent("medical_o1_zh_sample.jsonl")).path
        config.limit = 6
        config.validationCount = 1
        config.lossOn = .afterPrompt
        config.maxLength = 256
        let folder = directory.appendingPathComponent("job")
        var export = JobExport(config: config, source: "tutorial.yaml", folder: folder.path)
        export.shardBytes = 400_000_000
        _ = try export.run()

        let base = folder.appendingPathComponent("base_model")
        XCTAssertTrue(FileManager.default.fileExists(atPath: base.appendingPathComponent("model.safetensors.index.json").path))
        let tokenizer = try ModelTokenizer(TokenizerLoader.load(path: gguf), path: gguf)
        let expected = try TrainingData.load(config.data, config: config, tokenizer: tokenizer)
        let rows = try jsonLines(folder.appendingPathComponent("data/train.jsonl"))
        XCTAssertEqual(rows.compactMap { $0["input_ids"] as? [Int] }, expected.train.map { $0.tokens.map(Int.init) })
        XCTAssertEqual(rows.compactMap { $0["labels"] as? [Int] }, expected.train.map { JobExport.huggingFaceLabels($0).map(Int.init) })
        // The folder's own tokenizer reads the records as the GGUF's does.
        let reloaded = try ModelTokenizer(TokenizerLoader.load(path: base.path), path: base.path)
        XCTAssertEqual(try TrainingData.load(config.data, config: config, tokenizer: reloaded).train, expected.train)

        let original = try ModelCheckpoint.open(gguf), written = try ModelCheckpoint.open(base.path)
        XCTAssertEqual(written.config, original.config)
        let name = Qwen2TensorNames.layer(3, .downProj)
        XCTAssertEqual(try written.tensor(name).floats(),
                       try original.tensor(name).floats().map { HalfFloat.float(fromBFloat: HalfFloat.bfloat(from: $0)) })

        // Rounding every weight to bfloat16 (relative error up to 2^-9) moves the logits of a
        // 24-layer model by up to 0.08 on these prompts (logits span about ±20): the tolerance is
        // three times that, and the prediction stays.
        let ggufModel = try Qwen2Model<Float>.load(path: gguf).model, folderModel = try Qwen2Model<Float>.load(path: base.path).model
        let prompts = try ["诊断问题：头痛发热三天，应考虑什么？\n详细分析：", "The patient has a fever and"].map(tokenizer.encode)
        var folderLogits: [[Float]] = []
        for ids in prompts {
            let pass = ForwardPass(batch: 1, length: ids.count, useAdapter: false)
            let a = ggufModel.logits(tokens: ids, pass: pass, rows: [ids.count - 1]).array
            let b = folderModel.logits(tokens: ids, pass: pass, rows: [ids.count - 1]).array
            XCTAssertEqual(a.indices.max { a[$0] < a[$1] }, b.indices.max { b[$0] < b[$1] })
            XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max() ?? 0, 0.25)
            folderLogits.append(b)
        }
        // Where the reference Python is at hand, transformers reads the folder as the model medtune
        // reads (both in float32 on the same bfloat16 weights).
        guard let python = try referencePython() else { return }
        let script = directory.appendingPathComponent("logits.py"), output = directory.appendingPathComponent("logits.json")
        try """
            import json, sys, torch
            from transformers import AutoModelForCausalLM
            model = AutoModelForCausalLM.from_pretrained(sys.argv[1], torch_dtype=torch.float32)
            with torch.no_grad():
                logits = [model(torch.tensor([ids])).logits[0, -1].tolist() for ids in json.loads(sys.argv[2])]
            json.dump(logits, open(sys.argv[3], "w"))
            """.write(to: script, atomically: true, encoding: .utf8)
        let ids = String(decoding: try JSONEncoder().encode(prompts), as: UTF8.self)
        let result = try run(python, [script.path, base.path, ids, output.path], environment: ["CUDA_VISIBLE_DEVICES": ""])
        XCTAssertEqual(result.status, 0, result.output)
        let reference = try JSONDecoder().decode([[Float]].self, from: Data(contentsOf: output))
        for (ours, theirs) in zip(folderLogits, reference) {
            XCTAssertLessThan(zip(ours, theirs).map { abs($0 - $1) }.max() ?? 1, 1e-3)
        }
    }

    /// train.py on the CPU for two steps against `medtune train` on the same records, order and
    /// initial adapter (dropout 0, no shuffle): the same losses, gradient norms and learning rates.
    func testTrainScriptFollowsMedtuneTrain() throws {
        guard let python = try referencePython() else { throw XCTSkip("no Python with torch, transformers and peft (set MEDTUNE_PYTHON to one)") }
        let config = try tinyRecipe()
        let job = directory.appendingPathComponent("job")
        _ = try JobExport(config: config, source: "tiny.yaml", folder: job.path).run()
        var local = config
        local.outputDir = directory.appendingPathComponent("medtune-run").path
        XCTAssertEqual(try TrainingJob(config: local, mode: .fresh).run(observer: nil, shouldStop: { false }), .finished(step: 2))

        let run = directory.appendingPathComponent("hf-run")
        let result = try self.run(python, [job.appendingPathComponent("train.py").path, "--output-dir", run.path],
                                  environment: ["CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("global batch: micro-batch 2 x accumulation 2 x 1 processes = 4 records"), result.output)
        let ours = try jsonLines(URL(fileURLWithPath: local.outputDir!).appendingPathComponent("metrics.jsonl"))
        let theirs = try jsonLines(run.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(theirs.map { $0["step"] as? Int }, ours.map { $0["step"] as? Int }, "\(theirs)")
        for (a, b) in zip(ours, theirs) {
            for key in ["loss", "val_loss", "grad_norm", "learning_rate"] {
                guard let x = a[key] as? Double else { XCTAssertNil(b[key], key); continue }
                let y = try XCTUnwrap(b[key] as? Double, "\(key) at step \(a["step"] ?? "?")")
                XCTAssertEqual(y, x, accuracy: 1e-3 * abs(x), "\(key) at step \(a["step"] ?? "?")")
            }
        }
        // The run folder is a medtune run: its adapter loads on the base.
        let model = try Qwen2Model<Float>.load(path: config.model).model
        XCTAssertEqual(try PEFTAdapter.load(run.path, into: model).r, 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("heldout_ids.json").path))
    }

    /// A run stopped after its first checkpoint and continued with `train.py --resume` ends as the
    /// uninterrupted run does: the same later losses and the same adapter, and metrics.jsonl
    /// keeps one line per step.
    func testTrainScriptResumesFromItsNewestCheckpoint() throws {
        guard let python = try referencePython() else { throw XCTSkip("no Python with torch, transformers and peft (set MEDTUNE_PYTHON to one)") }
        var config = try tinyRecipe()
        config.maxSteps = 3; config.saveSteps = 1; config.keepCheckpoints = 3
        let job = directory.appendingPathComponent("job")
        _ = try JobExport(config: config, source: "tiny.yaml", folder: job.path).run()
        let environment = ["CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false"]
        let whole = directory.appendingPathComponent("whole"), resumed = directory.appendingPathComponent("resumed")
        let script = job.appendingPathComponent("train.py").path
        let first = try run(python, [script, "--output-dir", whole.path], environment: environment)
        XCTAssertEqual(first.status, 0, first.output)

        // The state of a run stopped during step 2: checkpoint-1 and the lines up to step 1.
        let files = FileManager.default
        try files.createDirectory(at: resumed, withIntermediateDirectories: true)
        try files.copyItem(at: whole.appendingPathComponent("checkpoint-1"), to: resumed.appendingPathComponent("checkpoint-1"))
        for name in ["heldout_ids.json", "config.yaml"] where files.fileExists(atPath: whole.appendingPathComponent(name).path) {
            try files.copyItem(at: whole.appendingPathComponent(name), to: resumed.appendingPathComponent(name))
        }
        let lines = try String(contentsOf: whole.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let upToStepOne = try lines.filter { line in
            try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["step"] as? Int) <= 1
        }
        try (upToStepOne.joined(separator: "\n") + "\n").write(to: resumed.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let second = try run(python, [script, "--output-dir", resumed.path, "--resume"], environment: environment)
        XCTAssertEqual(second.status, 0, second.output)

        let straight = try jsonLines(whole.appendingPathComponent("metrics.jsonl"))
        let continued = try jsonLines(resumed.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(straight.map { $0["step"] as? Int }, [0, 1, 2, 3])
        XCTAssertEqual(continued.map { $0["step"] as? Int }, [0, 1, 2, 3])
        for (a, b) in zip(straight, continued).dropFirst(2) {
            let x = try XCTUnwrap(a["loss"] as? Double), y = try XCTUnwrap(b["loss"] as? Double)
            XCTAssertEqual(y, x, accuracy: 1e-6 * abs(x), "loss at step \(a["step"] ?? "?")")
        }
        let adapter = "adapter_model.safetensors"
        let expected = try SafetensorsFile(path: whole.appendingPathComponent(adapter).path)
        let actual = try SafetensorsFile(path: resumed.appendingPathComponent(adapter).path)
        let names = expected.tensorEntries.map(\.name)
        XCTAssertEqual(actual.tensorEntries.map(\.name).sorted(), names.sorted())
        for name in names {
            let a = try expected.tensor(named: name).floats(), b = try actual.tensor(named: name).floats()
            XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max() ?? 1, 1e-6, name)
        }
    }

    func referencePython() throws -> String? { try ExternalProgram.referencePython(scratch: directory) }

    func assertPythonCompiles(_ script: URL) throws {
        let result = try run("/usr/bin/env", ["python3", "-m", "py_compile", script.path])
        XCTAssertEqual(result.status, 0, result.output)
    }

    func assertShellParses(_ script: URL) throws {
        let result = try run("/bin/bash", ["-n", script.path])
        XCTAssertEqual(result.status, 0, result.output)
    }

    func run(_ program: String, _ arguments: [String], in folder: URL? = nil, environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try ExternalProgram.run(program, arguments, in: folder, environment: environment, scratch: directory)
    }
}

/// A tiny random Qwen2 as a Hugging Face folder (float32 safetensors) over a byte vocabulary:
/// byte b is token b, `<|endoftext|>` is 256 and ends every record.
enum TinyHFFolder {
    static let config = Qwen2Config(hiddenSize: 16, layerCount: 2, headCount: 2, kvHeadCount: 1, intermediateSize: 24,
                                    ropeTheta: 10_000, rmsNormEpsilon: 1e-6, vocabSize: 257, maxPositionEmbeddings: 128)

    static func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 7)
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for (name, shape) in Qwen2TensorNames.expected(config) {
            let values = (0..<shape.reduce(1, *)).map { _ in
                Float(name.hasSuffix("norm.weight") ? 1 + (rng.nextDouble() - 0.5) * 0.2 : (rng.nextDouble() * 2 - 1) * 0.5)
            }
            try writer.add(name, shape: shape, values: values)
        }
        try writer.write(to: directory.appendingPathComponent("model.safetensors").path)
        let tokens = ByteLevel.characterForByte.map { String(Character($0)) } + ["<|endoftext|>"]
        let tokenizer = try BPETokenizer(.init(tokens: tokens, merges: [], addedTokens: [AddedToken(id: 256, content: "<|endoftext|>", special: true)],
                                               specialTokenIds: SpecialTokenIds(eos: 256), source: "tiny"))
        try tokenizer.huggingFaceJSON().write(to: directory.appendingPathComponent("tokenizer.json"))
        let files: [String: [String: Any]] = [
            "config.json": [
                "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": config.hiddenSize,
                "intermediate_size": config.intermediateSize, "num_hidden_layers": config.layerCount,
                "num_attention_heads": config.headCount, "num_key_value_heads": config.kvHeadCount,
                "rms_norm_eps": config.rmsNormEpsilon, "rope_theta": config.ropeTheta, "vocab_size": config.vocabSize,
                "max_position_embeddings": config.maxPositionEmbeddings, "tie_word_embeddings": false, "eos_token_id": 256,
            ],
            "tokenizer_config.json": ["eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "tokenizer_class": "Qwen2Tokenizer"],
        ]
        for (name, object) in files {
            try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: directory.appendingPathComponent(name))
        }
    }
}
