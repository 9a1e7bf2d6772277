import Foundation
import TestSupport
import XCTest

/// The `medtune` binary as a user runs it: real argv, real signals, real exit statuses, and
/// errors that are one line on standard error.
final class CommandLineTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-cli") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// The binary built beside the test bundle.
    static var binary: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("medtune").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return TestPaths.repository.appendingPathComponent(".build/release/medtune").path
    }

    struct Finished {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// A running medtune; `wait` collects its output.
    final class Running {
        let process = Process()
        let out = Pipe(), err = Pipe()
        private var collected = (Data(), Data())
        private let lock = NSLock()

        init(_ arguments: [String], environment: [String: String] = [:], in directory: URL) throws {
            process.executableURL = URL(fileURLWithPath: CommandLineTests.binary)
            process.arguments = arguments
            process.currentDirectoryURL = directory
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            out.fileHandleForReading.readabilityHandler = { [weak self] handle in self?.append(handle.availableData, error: false) }
            err.fileHandleForReading.readabilityHandler = { [weak self] handle in self?.append(handle.availableData, error: true) }
            try process.run()
        }

        private func append(_ data: Data, error: Bool) {
            lock.lock()
            if error { collected.1 += data } else { collected.0 += data }
            lock.unlock()
        }

        var stdout: String {
            lock.lock()
            defer { lock.unlock() }
            return String(decoding: collected.0, as: UTF8.self)
        }

        /// Waits (at most `seconds`) until standard output contains `text`.
        func waitFor(_ text: String, seconds: Double = 120) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && process.isRunning {
                if stdout.contains(text) { return true }
                usleep(20_000)
            }
            return stdout.contains(text)
        }

        func signal(_ number: Int32) { kill(process.processIdentifier, number) }

        func wait(seconds: Double = 300) -> Finished {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            out.fileHandleForReading.readabilityHandler = nil
            err.fileHandleForReading.readabilityHandler = nil
            append(out.fileHandleForReading.readDataToEndOfFile(), error: false)
            append(err.fileHandleForReading.readDataToEndOfFile(), error: true)
            lock.lock()
            defer { lock.unlock() }
            return Finished(status: process.terminationStatus, stdout: String(decoding: collected.0, as: UTF8.self),
                            stderr: String(decoding: collected.1, as: UTF8.self))
        }
    }

    func medtune(_ arguments: [String], environment: [String: String] = [:]) throws -> Finished {
        try Running(arguments, environment: environment, in: directory).wait()
    }

    /// Records of the real medical sample, few and short.
    func trainingArguments(output: String, steps: Int = 2) throws -> [String] {
        let records = try TestPaths.require(TestPaths.sharedData.appendingPathComponent("medical_o1_zh_sample.jsonl")).path
        return ["train", "--model", try TestPaths.require(TestPaths.qwenGGUF).path, "--data", records, "--output-dir", output,
                "--limit", "8", "--validation-count", "2", "--max-length", "24", "--loss-on", "all", "--micro-batch-size", "1",
                "--gradient-accumulation-steps", "1", "--max-steps", "\(steps)", "--logging-steps", "1", "--eval-steps", "0",
                "--save-steps", "0", "--matmul-precision", "float32"]
    }

    func assertOneLineError(_ run: Finished, startsWith prefix: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 1, run.stderr, file: file, line: line)
        let lines = run.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, run.stderr, file: file, line: line)
        XCTAssertTrue(lines.first?.hasPrefix(prefix) ?? false, run.stderr, file: file, line: line)
    }

    /// OpenBLAS is opened once at the root: a wrong library is the same clean error for `train`
    /// as for `generate`, and a named library that does not exist is an error, not ignored.
    func testAnUnusableOpenBLASIsAOneLineErrorForEveryCommand() throws {
        let train = try trainingArguments(output: directory.appendingPathComponent("run").path)
        let generate = ["generate", "--model", try TestPaths.require(TestPaths.qwenGGUF).path, "--prompt", "hi"]
        for arguments in [train, generate] {
            assertOneLineError(try medtune(arguments, environment: ["MEDTUNE_OPENBLAS": "libz.so.1"]),
                               startsWith: "error: libz.so.1: not a CBLAS library")
            assertOneLineError(try medtune(arguments, environment: ["MEDTUNE_OPENBLAS": "/nonexistent/libopenblas.so"]),
                               startsWith: "error: MEDTUNE_OPENBLAS=/nonexistent/libopenblas.so: cannot open the library")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("run").path))
    }

    /// `--device` of generate, compare and score is checked before the model (or any data) is
    /// read: a bad value, and on a machine without an NVIDIA driver a GPU request, is a one-line
    /// error; a precision the GPU path does not have is a usage error.
    func testDeviceErrorsComeBeforeTheModel() throws {
        let commands = [["generate", "--model", "/nonexistent/model", "--prompt", "hi"],
                        ["compare", "--model", "/nonexistent/model", "--adapter", "/nonexistent/adapter", "--question", "hi"],
                        ["score", "--model", "/nonexistent/model", "--adapter", "/nonexistent/adapter", "--data", "/nonexistent/data.jsonl",
                         "--bert", "/nonexistent/bert"]]
        for command in commands {
            assertOneLineError(try medtune(command + ["--device", "gpu"]), startsWith: "error: --device gpu: expected auto, cpu, cuda or cuda:N")
            // A usage error: ArgumentParser's exit status, naming the value.
            let precision = try medtune(command + ["--device", "cuda", "--precision", "float16"])
            XCTAssertEqual(precision.status, 64, precision.stderr)
            XCTAssertTrue(precision.stderr.contains("float16"), precision.stderr)
        }
        guard dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL) == nil else { throw XCTSkip("this machine has an NVIDIA driver") }
        for command in commands {
            assertOneLineError(try medtune(command + ["--device", "cuda:1"]), startsWith: "error: --device cuda: no NVIDIA driver found (libcuda.so.1)")
            assertOneLineError(try medtune(command + ["--device", "cuda", "--precision", "float32"]),
                               startsWith: "error: --device cuda: no NVIDIA driver found (libcuda.so.1)")
        }
    }

    /// `medtune plot` draws a run's curve from its metrics.jsonl alone (all an exported job's
    /// train.py leaves besides the adapter) without changing the log; a folder without a log is a
    /// one-line error naming the file.
    func testPlotDrawsTheCurveOfAMetricsLog() throws {
        let run = directory.appendingPathComponent("job-run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let lines = (1...6).map { "{\"step\":\($0),\"epoch\":\(Double($0) / 10),\"loss\":\(4 - Double($0) * 0.25)}" }
            + ["{\"step\":6,\"epoch\":0.6,\"val_loss\":2.75}"]
        let log = Data((lines.joined(separator: "\n") + "\n").utf8)
        try log.write(to: run.appendingPathComponent("metrics.jsonl"))
        let plotted = try medtune(["plot", run.path])
        XCTAssertEqual(plotted.status, 0, plotted.stderr)
        let png = try Data(contentsOf: run.appendingPathComponent("loss_curve.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let svg = try String(contentsOf: run.appendingPathComponent("loss_curve.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("job-run: loss by step"), svg)
        XCTAssertEqual(try Data(contentsOf: run.appendingPathComponent("metrics.jsonl")), log)

        let empty = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        assertOneLineError(try medtune(["plot", empty.path]), startsWith: "error: \(empty.path)/metrics.jsonl: no metrics log here")
        XCTAssertFalse(FileManager.default.fileExists(atPath: empty.appendingPathComponent("loss_curve.png").path))
    }

    /// SIGTERM and SIGHUP (timeout, Slurm, a closed terminal) stop training as Ctrl-C does: a
    /// checkpoint, the signal's exit status, nothing half-written; the run then resumes.
    func testTerminationSignalsWriteACheckpointAndExitNonZero() throws {
        for (number, status) in [(SIGTERM, Int32(143)), (SIGHUP, 129), (SIGINT, 130)] {
            let output = directory.appendingPathComponent("run-\(number)").path
            let running = try Running(try trainingArguments(output: output, steps: 500), in: directory)
            XCTAssertTrue(running.waitFor("step 1/500"), running.stdout)
            running.signal(number)
            let finished = running.wait()
            XCTAssertEqual(finished.status, status, finished.stdout + finished.stderr)
            XCTAssertTrue(finished.stdout.contains("interrupted after step"), finished.stdout)
            let entries = try FileManager.default.contentsOfDirectory(atPath: output)
            XCTAssertTrue(entries.contains { $0.hasPrefix("checkpoint-") && Int($0.dropFirst(11)) != nil }, "\(entries)")
            XCTAssertFalse(entries.contains { $0.hasSuffix(".old") || $0.hasSuffix(".incomplete") || $0.hasSuffix(".removed") }, "\(entries)")
        }
        // The last run continues where it stopped.
        let output = directory.appendingPathComponent("run-\(SIGINT)").path
        let resumed = try Running(try trainingArguments(output: output, steps: 500) + ["--resume"], in: directory)
        XCTAssertTrue(resumed.waitFor("resuming at step"), resumed.stdout)
        resumed.signal(SIGTERM)
        XCTAssertEqual(resumed.wait().status, 143)
    }

    /// kill -9 at any moment loses at most the steps since the last checkpoint: resuming gives the
    /// adapter of a run that was never killed, byte for byte.
    func testAKilledRunResumesToTheSameAdapter() throws {
        let straight = directory.appendingPathComponent("straight").path
        let steps = 6
        let plain = try medtune(try trainingArguments(output: straight, steps: steps) + ["--save-steps", "1"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let expected = try Data(contentsOf: URL(fileURLWithPath: straight + "/adapter_model.safetensors"))

        let killed = directory.appendingPathComponent("killed").path
        let arguments = try trainingArguments(output: killed, steps: steps) + ["--save-steps", "1"]
        for target in [2, 4] {
            let running = try Running(arguments + (target == 2 ? [] : ["--resume"]), in: directory)
            XCTAssertTrue(running.waitFor("step \(target)/\(steps)"), running.stdout)
            running.signal(SIGKILL)
            XCTAssertEqual(running.wait().status, SIGKILL)
        }
        let resumed = try medtune(arguments + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: killed + "/adapter_model.safetensors")), expected)
    }

    /// Two Ctrl-Cs in a row quit at once, but never in the middle of a checkpoint.
    func testASecondInterruptLeavesNoHalfWrittenCheckpoint() throws {
        let output = directory.appendingPathComponent("run").path
        let running = try Running(try trainingArguments(output: output, steps: 500), in: directory)
        XCTAssertTrue(running.waitFor("step 1/500"), running.stdout)
        running.signal(SIGINT)
        XCTAssertTrue(running.waitFor("stopping after this step"), running.stdout)
        running.signal(SIGINT)
        XCTAssertEqual(running.wait().status, 130)
        let entries = try FileManager.default.contentsOfDirectory(atPath: output)
        XCTAssertFalse(entries.contains { $0.hasSuffix(".old") || $0.hasSuffix(".incomplete") || $0.hasSuffix(".removed") }, "\(entries)")
    }

    /// An output folder the system will not create is medtune's one-line error naming it.
    func testAnOutputFolderUnderProcIsAOneLineError() throws {
        var arguments = try trainingArguments(output: "/proc/medtune-run")
        assertOneLineError(try medtune(arguments), startsWith: "error: /proc/medtune-run")
        arguments = try trainingArguments(output: "/sys/medtune-run")
        assertOneLineError(try medtune(arguments), startsWith: "error: /sys/medtune-run")
    }

    /// `score --candidates … --output DIR` writes its results there.
    func testScoringPairsWritesTheResultsFolder() throws {
        let pairs = directory.appendingPathComponent("pairs.jsonl")
        try Data("{\"candidate\": \"the cat sat\", \"reference\": \"a cat sat down\"}\n{\"candidate\": \"hello\", \"reference\": \"hello there\"}\n".utf8).write(to: pairs)
        let output = directory.appendingPathComponent("results").path
        let run = try medtune(["score", "--candidates", pairs.path, "--bert", try TestPaths.require(TestPaths.miniLM).path,
                               "--num-layers", "6", "--output", output])
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/results.json"))) as? [String: Any]
        XCTAssertEqual((json?["rows"] as? [Any])?.count, 2)
        XCTAssertEqual(try String(contentsOfFile: output + "/results.txt", encoding: .utf8) + "\n", run.stdout, "the file holds the table printed")
    }

    /// `--temperature 0` is greedy decoding, whatever else is asked.
    func testTemperatureZeroGivesTheGreedyAnswer() throws {
        let model = try TestPaths.require(TestPaths.qwenGGUF).path
        let common = ["generate", "--model", model, "--prompt", "The capital of France is", "--max-new-tokens", "8"]
        let greedy = try medtune(common)
        let zero = try medtune(common + ["--sample", "--temperature", "0", "--seed", "5"])
        XCTAssertEqual(greedy.status, 0, greedy.stderr)
        XCTAssertEqual(zero.status, 0, zero.stderr)
        XCTAssertEqual(zero.stdout, greedy.stdout)
        XCTAssertFalse(greedy.stdout.isEmpty)
    }
}

/// compare and score ask a tuned model with the prompt of the recipe it was trained on.
final class TrainedPromptTests: XCTestCase {
    func testCompareUsesTheRunsPromptTemplateAndAnswerMarker() throws {
        let directory = try TestPaths.temporaryDirectory("medtune-cli-prompt")
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try TestPaths.require(TestPaths.qwenGGUF).path
        let records = directory.appendingPathComponent("records.jsonl")
        try Data("{\"q\": \"头痛怎么办？\", \"cot\": \"先问病史。\", \"a\": \"多休息。\"}\n{\"q\": \"发热怎么办？\", \"cot\": \"量体温。\", \"a\": \"多喝水。\"}\n".utf8).write(to: records)
        let run = directory.appendingPathComponent("run").path
        let train = try CommandLineTests.Running(["train", "--model", model, "--data", records.path, "--output-dir", run,
                                                   "--fields", "{Question: q, Complex_CoT: cot, Response: a}",
                                                   "--prompt-template", "问：{Question}\n", "--analysis-template", "{Complex_CoT}\n【答】",
                                                   "--max-steps", "1", "--max-length", "32", "--validation-count", "0",
                                                   "--micro-batch-size", "1", "--gradient-accumulation-steps", "1",
                                                   "--save-steps", "0", "--matmul-precision", "float32"], in: directory).wait()
        XCTAssertEqual(train.status, 0, train.stdout + train.stderr)
        let output = directory.appendingPathComponent("compare.json").path
        let compare = try CommandLineTests.Running(["compare", "--model", model, "--adapter", run, "--data", records.path,
                                                     "--question-field", "q", "--reference-field", "a", "--limit", "1",
                                                     "--max-new-tokens", "4", "--output", output], in: directory).wait()
        XCTAssertEqual(compare.status, 0, compare.stderr)
        XCTAssertTrue(compare.stderr.contains("answer marker \"【答】\""), compare.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any]
        let row = (json?["rows"] as? [[String: Any]])?.first
        XCTAssertEqual(row?["prompt"] as? String, "问：头痛怎么办？\n")
        XCTAssertEqual(json?["template"] as? String, "问：{Question}\n")
    }
}

/// compare and score over every checkpoint of a run, from one loaded base.
final class CheckpointSweepCommandTests: XCTestCase {
    /// A two-step run with a checkpoint at each step: compare --checkpoints answers with the base
    /// and both checkpoints, each checkpoint's answer the one `compare --adapter` gives with that
    /// checkpoint loaded on its own; score --checkpoints reports every step with the validation
    /// loss the run logged.
    func testEveryCheckpointAnswersAsItsOwnAdapterDoes() throws {
        let directory = try TestPaths.temporaryDirectory("medtune-cli-sweep")
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try TestPaths.require(TestPaths.qwenGGUF).path
        let records = directory.appendingPathComponent("records.jsonl")
        let lines = ["头痛怎么办？", "发热怎么办？", "咳嗽怎么办？", "失眠怎么办？"].enumerated().map { i, q in
            "{\"Question\": \"\(q)\", \"Complex_CoT\": \"先问病史\(i)。\", \"Response\": \"多休息。\"}"
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: records)
        let run = directory.appendingPathComponent("run").path
        let train = try CommandLineTests.Running(["train", "--model", model, "--data", records.path, "--output-dir", run,
                                                   "--max-steps", "2", "--max-length", "32", "--validation-count", "1",
                                                   "--micro-batch-size", "1", "--gradient-accumulation-steps", "1", "--learning-rate", "5e-3",
                                                   "--save-steps", "1", "--eval-steps", "1", "--matmul-precision", "float32"], in: directory).wait()
        XCTAssertEqual(train.status, 0, train.stdout + train.stderr)

        let sweepFile = directory.appendingPathComponent("sweep.json").path
        let sweep = try CommandLineTests.Running(["compare", "--model", model, "--checkpoints", run, "--data", records.path,
                                                   "--limit", "1", "--max-new-tokens", "6", "--output", sweepFile], in: directory).wait()
        XCTAssertEqual(sweep.status, 0, sweep.stderr)
        let answers = try XCTUnwrap(((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sweepFile))) as? [String: Any])?["rows"]
            as? [[String: Any]])?.first?["answers"] as? [[String: Any]])
        XCTAssertEqual(answers.map { $0["model"] as? String }, ["base", "checkpoint-1", "checkpoint-2"])

        let alone = directory.appendingPathComponent("alone.json").path
        let single = try CommandLineTests.Running(["compare", "--model", model, "--adapter", run + "/checkpoint-2", "--data", records.path,
                                                    "--limit", "1", "--max-new-tokens", "6", "--output", alone], in: directory).wait()
        XCTAssertEqual(single.status, 0, single.stderr)
        let row = try XCTUnwrap(((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: alone))) as? [String: Any])?["rows"]
            as? [[String: Any]])?.first)
        func text(_ side: Any?) -> String? { (side as? [String: Any])?["text"] as? String }
        XCTAssertEqual(text(answers[0]["side"]), text(row["base"]))
        XCTAssertEqual(text(answers[2]["side"]), text(row["lora"]))

        let bert = try TestPaths.require(TestPaths.miniLM).path
        let output = directory.appendingPathComponent("evaluation").path
        let score = try CommandLineTests.Running(["score", "--model", model, "--checkpoints", run, "--data", records.path, "--bert", bert,
                                                   "--num-layers", "6", "--max-new-tokens", "6", "--output", output], in: directory).wait()
        XCTAssertEqual(score.status, 0, score.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/results.json"))) as? [String: Any])
        let entries = try XCTUnwrap(report["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.map { $0["step"] as? Int }, [0, 1, 2])
        XCTAssertTrue(entries.allSatisfy { $0["validationLoss"] is Double }, "\(entries)")
        XCTAssertNotNil(report["best"] as? String)
        XCTAssertTrue(FileManager.default.fileExists(atPath: output + "/checkpoints.png"))
    }
}

/// The benchmarks' peers are launched by one launcher that cannot stall on a chatty program,
/// and the scripts that fetch them go through package managers by name.
final class PeerLaunchTests: XCTestCase {
    func testAFailingPeerThatFloodsStandardErrorIsReportedNotWaitedOn() throws {
        let directory = try TestPaths.temporaryDirectory("medtune-cli-peer")
        defer { try? FileManager.default.removeItem(at: directory) }
        let python = directory.appendingPathComponent("python")
        // 3 MB on standard error (far beyond a pipe's buffer), then the reason, then exit 3.
        try Data("#!/bin/sh\nhead -c 3000000 /dev/zero | tr '\\0' x >&2\necho >&2\necho \"ModuleNotFoundError: No module named 'tokenizers'\" >&2\nexit 3\n".utf8).write(to: python)
        chmod(python.path, 0o755)
        let corpus = TestPaths.golden("Tokenizers/corpus.json").path
        let run = try CommandLineTests.Running(["bench", "tokenizer", "--model", try TestPaths.require(TestPaths.qwenGGUF).path,
                                                 "--corpus", corpus, "--shared", TestPaths.sharedData.path, "--mix-megabytes", "1", "--repeats", "1"],
                                                environment: ["MEDTUNE_PYTHON": python.path], in: directory).wait(seconds: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("peer: not run (\(python.path): ModuleNotFoundError: No module named 'tokenizers')"), run.stdout)
    }

    func testNoScriptNamesARegistryAddress() throws {
        let scripts = TestPaths.repository.appendingPathComponent("scripts")
        let enumerator = FileManager.default.enumerator(atPath: scripts.path)
        var checked = 0
        while let name = enumerator?.nextObject() as? String {
            guard name.hasSuffix(".sh") else { continue }
            let text = try String(contentsOf: scripts.appendingPathComponent(name), encoding: .utf8)
            XCTAssertNil(text.range(of: "https?://", options: .regularExpression), "\(name) names an address; fetch through apt or pip by package name")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 3)
    }
}
