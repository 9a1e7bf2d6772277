// The Evaluator module.
