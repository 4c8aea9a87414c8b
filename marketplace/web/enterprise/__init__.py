"""The SME portal: wallet, open programmes, applications, vouchers, profile."""
