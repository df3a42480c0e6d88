//! cairn-executors: the built-in executors.
