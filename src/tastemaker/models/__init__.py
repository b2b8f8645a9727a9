"""Model families, one module each, all behind the small interface of models.base."""
