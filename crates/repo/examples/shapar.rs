use sha2::{Digest, Sha256};
use std::time::Instant;
fn main() {
    let data = vec![7u8; 64 << 20];
    for threads in [1usize, 2] {
        let t = Instant::now();
        std::thread::scope(|s| {
            for i in 0..threads {
                let d = &data[i * (data.len() / threads)..(i + 1) * (data.len() / threads)];
                s.spawn(move || {
                    let mut acc = 0u8;
                    for c in d.chunks(256) {
                        acc ^= Sha256::digest(c)[0];
                    }
                    acc
                });
            }
        });
        let e = t.elapsed();
        println!(
            "threads {threads}: {:?} = {:.2} GB/s",
            e,
            data.len() as f64 / e.as_secs_f64() / 1e9
        );
    }
}
