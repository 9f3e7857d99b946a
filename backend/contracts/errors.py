"""Expected failures of contracts, each with its HTTP status and English message."""

from __future__ import annotations

from backend.core.errors import Conflict, Forbidden, NotFound


class ContractNotFound(NotFound):
    message = "Contract {contract_id} not found."


class ContractLocked(Conflict):
    message = "Both parties accepted this contract, so it can no longer change."


class ContractAlreadyAccepted(Conflict):
    message = "You already accepted this version of the contract."


class DebtorManagementIsFreelancersChoice(Forbidden):
    message = "Only the freelancer can choose debtor management."
