"""Safe proposals (one SafeTx per Safe nonce) and owners' signatures."""

from __future__ import annotations

from sqlmodel import Session, col, select

from watchdog.store.responder import Proposal, ProposalSignature, ProposalStatus


def proposals(session: Session, incident_id: int | None = None) -> list[Proposal]:
    """Newest first."""
    query = select(Proposal).order_by(col(Proposal.id).desc())
    if incident_id is not None:
        query = query.where(Proposal.incident_id == incident_id)
    return list(session.exec(query))


def taken_nonces(session: Session, chain_id: int, safe: str, from_nonce: int) -> list[int]:
    return list(session.exec(select(Proposal.nonce).where(Proposal.chain_id == chain_id, Proposal.safe == safe,
                                                          col(Proposal.nonce) >= from_nonce)))


def open_proposals(session: Session, chain_id: int, safe: str, target: str, scope: str) -> list[Proposal]:
    return list(session.exec(select(Proposal).where(Proposal.chain_id == chain_id, Proposal.safe == safe,
                                                    Proposal.target == target, Proposal.scope == scope,
                                                    Proposal.status == ProposalStatus.PROPOSED)))


def signatures(session: Session, proposal_id: int | None) -> list[ProposalSignature]:
    """In ascending owner order."""
    return list(session.exec(select(ProposalSignature).where(ProposalSignature.proposal_id == proposal_id)
                             .order_by(col(ProposalSignature.owner))))
