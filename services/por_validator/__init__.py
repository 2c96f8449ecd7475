"""por-validator: keeps the partner registry and decides every validation request."""
