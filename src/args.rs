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
        /// Made only in unsafe code that vouches for the memory (Python reads and writes it).
        vouched: Vouched,
    },
}

/// Proof that an [`Arg::Buffer`]'s memory was vouched for: its only constructor is unsafe, so
/// safe code cannot lend Python an arbitrary address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vouched(());

impl Vouched {
    /// # Safety
    /// The buffer's `data` is NULL with `count` 0, or else readable (and writable, if `writable`)
    /// for `count` elements of `elem`'s size whenever a call the argument is passed to runs.
    pub unsafe fn new() -> Vouched {
        Vouched(())
    }
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
