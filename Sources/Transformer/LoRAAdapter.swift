import MedtuneCore

/// A trainable low-rank update of a frozen linear layer, in PEFT's form (shared by every backend:
/// a backend reads A and B from it and adds its gradients to gradA and gradB):
/// Δy = scale · dropout(x) · Aᵀ · Bᵀ, with A [rank × in], B [out × rank],
/// scale = alpha / rank (or alpha / √rank with rsLoRA).
public final class LoRAAdapter<T: Scalar>: @unchecked Sendable {
    public let rank: Int
    public let alpha: Double
    public let rsLoRA: Bool
    public let dropout: Double
    public let a: Tensor<T>
    public let b: Tensor<T>
    /// Gradients of a and b, accumulated by backward until the optimiser clears them.
    public let gradA: Tensor<T>
    public let gradB: Tensor<T>

    public init(a: Tensor<T>, b: Tensor<T>, alpha: Double, rsLoRA: Bool = false, dropout: Double = 0) {
        precondition(a.shape.count == 2 && b.shape.count == 2 && a.shape[0] == b.shape[1], "LoRA shapes \(a.shape), \(b.shape)")
        rank = a.shape[0]
        self.alpha = alpha; self.rsLoRA = rsLoRA; self.dropout = dropout
        self.a = a; self.b = b
        gradA = Tensor(a.shape); gradB = Tensor(b.shape)
    }

    /// PEFT's initialisation: A Kaiming-uniform with a = √5 (bound 1/√in), B zero, so the
    /// adapted model starts identical to the base.
    public convenience init(inFeatures: Int, outFeatures: Int, rank: Int, alpha: Double, rsLoRA: Bool = false,
                            dropout: Double = 0, rng: inout SplitMix64) {
        let a = Tensor<T>([rank, inFeatures])
        let bound = 1 / Double(inFeatures).squareRoot()
        for i in 0..<a.count { a[i] = T((rng.nextDouble() * 2 - 1) * bound) }
        self.init(a: a, b: Tensor<T>([outFeatures, rank]), alpha: alpha, rsLoRA: rsLoRA, dropout: dropout)
    }

    public var inFeatures: Int { a.shape[1] }
    public var outFeatures: Int { b.shape[0] }
    public var scale: Double { rsLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank) }
}
