import ArgumentParser
import Foundation
import MedtuneCore
import Tokenizers

/// `medtune tokenize`: the token ids (and tokens) a model's tokenizer gives a text.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids and tokens of a text, as the model's tokenizer makes them.",
        discussion: """
            PATH is a Hugging Face folder (tokenizer.json, else vocab.txt), one of those files, or a .gguf file.
            With --file, each line is tokenized on its own; --json prints one JSON array of ids per line.
            """)

    @Option(name: .long, help: ArgumentHelp("The tokenizer: HF folder, tokenizer.json, vocab.txt or .gguf file.", valueName: "PATH"))
    var model: String

    @Option(name: .long, help: "The text to tokenize.")
    var text: String?

    @Option(name: .long, help: ArgumentHelp("A UTF-8 file to tokenize line by line.", valueName: "F"))
    var file: String?

    @Flag(name: .long, help: "Print one JSON array of ids per input line and nothing else.")
    var json = false

    @Flag(name: .long, help: "Tokenize special-token text such as <|im_start|> as plain characters.")
    var plainSpecial = false

    @Flag(name: .long, help: "Add the model's BOS or [CLS]/[SEP] tokens.")
    var addSpecialTokens = false

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give exactly one of --text and --file") }
    }

    func run() throws {
        let tokenizer = try TokenizerLoader.load(path: model)
        for line in try inputLines() {
            let ids = tokenizer.encode(line, allowSpecial: !plainSpecial, addSpecialTokens: addSpecialTokens)
            if json {
                print("[" + ids.map(String.init).joined(separator: ",") + "]")
            } else {
                print("ids:    " + ids.map(String.init).joined(separator: " "))
                print("tokens: " + ids.map { Self.display(tokenizer, $0) }.joined(separator: " "))
            }
        }
    }

    private func inputLines() throws -> [String] {
        if let text { return [text] }
        guard let file, let data = FileManager.default.contents(atPath: file) else {
            throw InputError(file: file, "cannot read the file (missing or unreadable)")
        }
        // Split on the byte: as Characters, "\r\n" is one and would not split at "\n".
        var lines = try data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated().map { index, line in
            let bytes = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            guard let text = String(bytes: bytes, encoding: .utf8) else {
                throw InputError(file: file, at: "line \(index + 1)", "not UTF-8 text")
            }
            return text
        }
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// A byte-level token as the text it stands for, or as its bytes in hex when it is part of a
    /// character ("<e6 82>"); other tokens as the vocabulary spells them.
    private static func display(_ tokenizer: any Tokenizer, _ id: Int) -> String {
        if let bpe = tokenizer as? BPETokenizer, let bytes = bpe.tokenBytes(id), !bpe.isSpecial(id) {
            if let text = String(validating: bytes, as: UTF8.self) { return quoted(text) }
            return "<" + bytes.map { String(format: "%02x", $0) }.joined(separator: " ") + ">"
        }
        return quoted(tokenizer.tokenText(id) ?? "?")
    }

    /// A token as a JSON string, so that spaces, newlines and controls stay visible.
    private static func quoted(_ token: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [token], options: [.fragmentsAllowed])) ?? Data()
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }
}
