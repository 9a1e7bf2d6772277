// The Trainer module.
