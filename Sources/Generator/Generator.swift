// The Generator module.
