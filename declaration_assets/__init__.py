"""declaration_assets: immigration case PDFs to a cited first-person declaration, as Dagster assets."""
