"""Strategy plugins: the ModalStrategy base class and the shipped examples."""
