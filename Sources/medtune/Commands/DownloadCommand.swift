import ArgumentParser
import Foundation
import Hub

extension HubSource: ExpressibleByArgument {}
extension RepoType: ExpressibleByArgument {}

/// `medtune download`: fetch a model or dataset repository and print where it is.
struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a model or dataset repository from ModelScope or Hugging Face.",
        discussion: """
        Prints the local folder, ready to pass as --model: --dir, or by default \
        <MEDTUNE_HOME or ~/.cache/medtune>/hub/<source>/<models|datasets>/<owner>/<name>/<revision>. \
        Files are checked (size and SHA-256 or git blob id) before they take their final names; an \
        interrupted download resumes where it stopped when run again.

        Environment: HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE=1 (cache only), MODELSCOPE_ENDPOINT or \
        MODELSCOPE_DOMAIN, MODELSCOPE_API_TOKEN, MEDTUNE_HUB_SOURCE (default hub), MEDTUNE_HOME \
        (cache root, default ~/.cache/medtune), MEDTUNE_STALL_TIMEOUT and MEDTUNE_RETRIES (as the \
        flags, which take precedence), and the usual http_proxy / https_proxy / no_proxy.
        """)

    @Argument(help: "Repository id, owner/name.")
    var repoID: String

    @Option(help: "Repository type: model or dataset.")
    var repoType: RepoType = .model

    @Option(help: "Branch, tag or commit (default: main on Hugging Face, master on ModelScope).")
    var revision: String?

    @Option(parsing: .upToNextOption, help: "Only files matching these globs, e.g. '*.json' '*.safetensors'.")
    var include: [String] = []

    @Option(parsing: .upToNextOption, help: "Skip files matching these globs.")
    var exclude: [String] = []

    @Option(help: "Hub to download from: modelscope or huggingface (default: MEDTUNE_HUB_SOURCE, else modelscope).")
    var source: HubSource?

    @Option(help: "Hub address, overriding HF_ENDPOINT / MODELSCOPE_ENDPOINT.")
    var endpoint: String?

    @Option(help: "Download into this folder instead of the cache.")
    var dir: String?

    @Option(help: "Files transferred in parallel.")
    var jobs: Int = 4

    @Option(help: ArgumentHelp("Seconds a transfer may receive nothing before it is abandoned and tried again (default \(HTTPTimeouts().lowSpeedSeconds)).",
                               valueName: "seconds"))
    var stallTimeout: Int?

    @Option(help: ArgumentHelp("Further attempts after a stall, a dropped connection or a server error, with pauses doubling from \(Int(RetryPolicy().initialDelay)) s (default \(RetryPolicy().attempts - 1)).",
                               valueName: "n"))
    var retries: Int?

    func validate() throws {
        guard jobs >= 1 && jobs <= 64 else { throw ValidationError("--jobs must be between 1 and 64") }
    }

    func run() throws {
        var configuration = try HubConfiguration.fromEnvironment(source ?? Hub.preferredSource())
        if let endpoint { configuration.endpoint = endpoint }
        configuration.jobs = jobs
        if let stallTimeout { try configuration.setStallTimeout(stallTimeout, from: "--stall-timeout") }
        if let retries { try configuration.setRetries(retries, from: "--retries") }
        let request = DownloadRequest(repo: try RepoID(repoID), type: repoType, revision: revision, include: include,
                                      exclude: exclude, destination: dir.map { URL(fileURLWithPath: $0) })
        let result = try HubClient(configuration).download(request)
        print(result.directory.path)
    }
}
