// The ModelFiles module.
