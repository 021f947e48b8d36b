//! A typed argument list built by the host without the GIL (the no-JSON fast path).

/// One argument, as the host gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    None,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// An object handle (its token).
    Object(u64),
    /// Host memory lent to the call as a memoryview (`python::buffer`): its address, element
    /// count and element type (`PYRT_BUFFER_*`), and whether Python may write to it.
    Buffer {
        data: usize,
        count: usize,
        elem: u32,
        writable: bool,
    },
}

/// A reusable list: `clear` keeps the allocation, so a hot loop allocates nothing.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Args {
    pub items: Vec<Arg>,
}

impl Args {
    pub fn push(&mut self, a: Arg) {
        self.items.push(a);
    }
    pub fn clear(&mut self) {
        self.items.clear();
    }
}
