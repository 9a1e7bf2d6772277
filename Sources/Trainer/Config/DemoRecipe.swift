/// The demo recipe `medtune train` runs without --config; identical to
/// configs/demo-qwen2.5-coder-0.5b.yaml (a test keeps them so).
public enum DemoRecipe {
    public static let yaml = ""
}
