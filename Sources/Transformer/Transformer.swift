// The Transformer module.
