mod broken {
    wsauth_core::include_spec!("../../../../wsauth-gen/tests/fixtures/invalid/several_problems_reported_together.yaml");
}

fn main() {}
