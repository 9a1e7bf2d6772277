import MedtuneCore

// The seam between medtune and a model backend. The trainer, the generator and the Qwen2 scorer
// see a model only through these protocols; `Qwen2Model` (CPU, BLAS) is the first backend. The
// LoRA adapters, the optimiser, the schedules, the data, the sampler and the checkpoint files are
// shared: a backend receives adapters through `attach` and returns their gradients in them.

/// What one pass over a batch needs to know besides the weights, whatever computes it.
public struct ForwardPass: Sendable {
    /// Sequences in the batch.
    public var batch: Int
    /// New tokens per sequence in this pass (all of them for training, 1 when decoding).
    public var length: Int
    /// Rotary position of each new token, [batch × length].
    public var positions: [Int]
    /// Which keys are real (non-zero) rather than left padding, [batch × (cached + length)];
    /// nil when no sequence is padded.
    public var keyMask: [UInt8]?
    /// Whether LoRA adapters take part; off gives the untouched base model.
    public var useAdapter: Bool
    /// Seed of LoRA dropout; nil disables dropout (inference).
    public var dropoutSeed: UInt64?
    /// Precision of the products with frozen weights (the projections and the LM head); LoRA's
    /// own products and attention are always float32.
    public var matrixPrecision: MatrixPrecision

    public init(batch: Int, length: Int, positions: [Int]? = nil, keyMask: [UInt8]? = nil,
                useAdapter: Bool = true, dropoutSeed: UInt64? = nil, matrixPrecision: MatrixPrecision = .float32) {
        self.batch = batch; self.length = length
        self.positions = positions ?? (0..<batch).flatMap { _ in Array(0..<length) }
        self.keyMask = keyMask; self.useAdapter = useAdapter; self.dropoutSeed = dropoutSeed
        self.matrixPrecision = matrixPrecision
        precondition(self.positions.count == batch * length, "\(self.positions.count) positions for \(batch)×\(length) tokens")
    }

    public var rows: Int { batch * length }

    /// The seed of one adapter's dropout mask, so that every mask is distinct and reproducible.
    public func dropoutSeed(_ site: AdapterSite) -> UInt64? {
        dropoutSeed.map { $0 &+ UInt64(site.layer * 16 + site.projection.ordinal) &* 0x9E37_79B9_7F4A_7C15 }
    }
}

/// A model whose projections carry LoRA adapters. The adapters are shared objects: the model
/// reads A and B from them and accumulates gradA and gradB into them.
public protocol LoRAModel<Element>: AnyObject {
    associatedtype Element: Scalar
    var layerCount: Int { get }
    /// Input and output features of the projection at `site`.
    func features(_ site: AdapterSite) -> (inFeatures: Int, outFeatures: Int)
    /// The attached adapters, in site order.
    var attachedAdapters: [(site: AdapterSite, adapter: LoRAAdapter<Element>)] { get }
    /// Replaces the model's adapters with `adapters`; sites not named lose theirs. The one way
    /// adapters reach a model, fresh (`attachFresh`) or loaded (`PEFTAdapter.load`).
    func attach(_ adapters: [(site: AdapterSite, adapter: LoRAAdapter<Element>)])
}

/// The training role: one step's forward and backward over a batch.
public protocol TrainableModel<Element>: LoRAModel {
    /// Tokens the model predicts over (ln of it is the loss of a uniform prediction).
    var vocabulary: Int { get }
    /// Keep only each layer's input and recompute the layer during backward (same dropout
    /// masks), trading one more forward for activation memory.
    var gradientCheckpointing: Bool { get set }
    /// The summed cross-entropy of the labelled tokens and their count; gradScale · ∂loss/∂(LoRA
    /// parameters) is added to each adapter's gradA and gradB. Labels are aligned with tokens
    /// (label i should follow token i; CrossEntropy.ignoreIndex where nothing is counted).
    /// A backend on another device throws what failed there (out of memory, say).
    func lossAndGradients(tokens: [Int32], labels: [Int32], pass: ForwardPass, gradScale: Element) throws -> (loss: Double, count: Int)
    /// The same loss without gradients (validation).
    func loss(tokens: [Int32], labels: [Int32], pass: ForwardPass) throws -> (loss: Double, count: Int)
}

/// The inference role: a prompt pass and then one token per sequence and step, against a KV
/// cache. Prompts of a batch are padded on the left and the padding masked (`ForwardPass.keyMask`).
public protocol DecodingModel<Element>: AnyObject {
    associatedtype Element: Scalar
    associatedtype Cache: AnyObject
    var vocabulary: Int { get }
    /// An empty cache for `batch` sequences of up to `capacity` positions.
    func makeCache(batch: Int, capacity: Int) -> Cache
    /// Runs the prompts, [pass.batch × pass.length], into the empty cache; returns the logits of
    /// each sequence's last token, [batch × vocabulary].
    func prefill(_ tokens: [Int32], pass: ForwardPass, cache: Cache) -> Tensor<Element>
    /// Runs one token per sequence after the cached ones; returns their logits, [batch × vocabulary].
    func decode(_ tokens: [Int32], pass: ForwardPass, cache: Cache) -> Tensor<Element>
    /// `prefill` and `decode` reduced to each sequence's greedy token: the argmax of its logits
    /// row, the lowest index among equal maxima. A backend whose logits live on another device
    /// picks there and copies back one id per sequence instead of a vocabulary-wide row.
    func prefillGreedy(_ tokens: [Int32], pass: ForwardPass, cache: Cache) -> [Int32]
    func decodeGreedy(_ tokens: [Int32], pass: ForwardPass, cache: Cache) -> [Int32]
}

extension DecodingModel {
    public func prefillGreedy(_ tokens: [Int32], pass: ForwardPass, cache: Cache) -> [Int32] {
        argmaxRows(prefill(tokens, pass: pass, cache: cache))
    }

    public func decodeGreedy(_ tokens: [Int32], pass: ForwardPass, cache: Cache) -> [Int32] {
        argmaxRows(decode(tokens, pass: pass, cache: cache))
    }
}

/// The argmax of each row of `logits` [rows × vocabulary], lowest index on ties. Specialised:
/// a generic comparison per logit would cost more than a GPU's decoding step.
@_specialize(where Element == Float)
func argmaxRows<Element: Scalar>(_ logits: Tensor<Element>) -> [Int32] {
    let columns = logits.shape[1], values = logits.buffer
    return (0..<logits.shape[0]).map { row in
        let start = row * columns
        var best = start
        for i in start..<(start + columns) where values[i] > values[best] { best = i }
        return Int32(best - start)
    }
}

/// The scoring role: the hidden states of a chosen layer.
public protocol HiddenStateModel<Element>: AnyObject {
    associatedtype Element: Scalar
    var layerCount: Int { get }
    var hiddenSize: Int { get }
    var vocabulary: Int { get }
    /// HF's `hidden_states[layer]`, [pass.rows × hiddenSize]: the residual stream after `layer`
    /// layers, and the final normed states for layer == layerCount.
    func hiddenStates(_ tokens: [Int32], pass: ForwardPass, layer: Int) -> Tensor<Element>
}

/// The hyper-parameters that the adapters of a model share: what PEFT's adapter_config.json records.
public struct LoRASpec: Equatable, Sendable {
    public var rank: Int
    public var alpha: Double
    public var rsLoRA: Bool
    public var dropout: Double
    /// The adapted projections, in model order.
    public var targets: [Projection]

    public init(rank: Int, alpha: Double, rsLoRA: Bool = false, dropout: Double = 0, targets: [Projection]) {
        self.rank = rank; self.alpha = alpha; self.rsLoRA = rsLoRA; self.dropout = dropout
        self.targets = Set(targets).sorted()
    }
}

extension LoRAModel {
    /// Every projection of every layer, in site order.
    public var sites: [AdapterSite] {
        (0..<layerCount).flatMap { layer in Projection.allCases.map { AdapterSite(layer: layer, $0) } }
    }

    /// The attached adapters keyed by PEFT's module path (`model.layers.N.self_attn.q_proj`, …).
    public var adapters: [(name: String, adapter: LoRAAdapter<Element>)] {
        attachedAdapters.map { ($0.site.modulePath, $0.adapter) }
    }

    /// What the attached adapters are, read from them; nil when there are none.
    public var loraSpec: LoRASpec? {
        let attached = attachedAdapters
        guard let first = attached.first?.adapter else { return nil }
        precondition(attached.allSatisfy { $0.adapter.rank == first.rank && $0.adapter.alpha == first.alpha && $0.adapter.rsLoRA == first.rsLoRA },
                     "the adapters of one model share rank, alpha and rsLoRA")
        return LoRASpec(rank: first.rank, alpha: first.alpha, rsLoRA: first.rsLoRA, dropout: first.dropout,
                        targets: attached.map(\.site.projection))
    }

    /// Attaches fresh adapters with PEFT's initialisation (A Kaiming-uniform, B zero) to the
    /// spec's targets in every layer, drawn in site order from `rng`.
    public func attachFresh(_ spec: LoRASpec, rng: inout SplitMix64) {
        var fresh: [(site: AdapterSite, adapter: LoRAAdapter<Element>)] = []
        for site in sites where spec.targets.contains(site.projection) {
            let (inFeatures, outFeatures) = features(site)
            fresh.append((site, LoRAAdapter(inFeatures: inFeatures, outFeatures: outFeatures, rank: spec.rank, alpha: spec.alpha,
                                            rsLoRA: spec.rsLoRA, dropout: spec.dropout, rng: &rng)))
        }
        attach(fresh)
    }
}
