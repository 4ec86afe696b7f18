package projections

// All returns every read model the ledger maintains, in a stable order.
func All() []Projection {
	return []Projection{
		EventIndexProjection{},
		EntitlementsProjection{},
		ChangelogProjection{},
		SpendingProjection{},
		PaymentsProjection{},
		BatchLinesProjection{},
		BankAccountsProjection{},
		OverpaymentsProjection{},
		AwardsProjection{},
		RostersProjection{},
	}
}
