#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    aerie_repo::fuzz::commit_verify(data);
});
